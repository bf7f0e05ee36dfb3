import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';

/** Timestamps are Dates in TypeScript on both engines (see node-sqlite.ts for SQLite). */
type Timestamp = ColumnType<Date, Date, Date>;

export interface UsersTable {
  id: string;
  username: string;
  email: string;
  password_hash: string;
  full_name: string;
  role: 'user' | 'admin';
  disabled: boolean;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PostsTable {
  id: string;
  author_id: string;
  title: string;
  content: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SigningKeysTable {
  /** RFC 7638 thumbprint of the key: the `kid` of the tokens it signs. */
  kid: string;
  alg: string;
  /** The private (or secret) key as a JWK, JSON text. */
  private_jwk: string;
  created_at: Timestamp;
}

export interface Database {
  users: UsersTable;
  posts: PostsTable;
  signing_keys: SigningKeysTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type PostRow = Selectable<PostsTable>;
export type NewPost = Insertable<PostsTable>;
export type PostUpdate = Updateable<PostsTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
