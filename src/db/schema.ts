import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

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
  /** Bumped when all the user's sessions end: a login that read an older value creates no session. */
  sessions_epoch: ColumnType<number, number | undefined, number>;
  /** The address was proven by a link sent to it. */
  email_verified: ColumnType<boolean, boolean | undefined, boolean>;
  /** EMAIL_VERIFICATION=required: a new address waiting for its link to be used; `email` holds until then. */
  pending_email: ColumnType<string | null, string | null | undefined, string | null>;
  /** The account has a confirmed TOTP factor (mfa/ keeps this in step with its tables). */
  mfa_totp: ColumnType<boolean, boolean | undefined, boolean>;
  /** How many passkeys the account has (mfa/ keeps this in step with its tables). */
  mfa_passkeys: ColumnType<number, number | undefined, number>;
  /** The author's words about themselves, 0..1000 characters. */
  bio: ColumnType<string, string | undefined, string>;
  /** An absolute https URL of their picture, or none. */
  image: ColumnType<string | null, string | null | undefined, string | null>;
}

export type PostStatus = 'draft' | 'scheduled' | 'published';

export interface PostsTable {
  id: string;
  author_id: string;
  title: string;
  /** Markdown. */
  content: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** The current slug; every slug the post has had is a row of post_slugs (the one unique place). */
  slug: string;
  status: PostStatus;
  /** When it was (or, scheduled, will be) published; null for a draft. */
  published_at: ColumnType<Date | null, Date | null, Date | null>;
  /** The excerpt its writer gave, or ''. */
  excerpt: string;
  /** What answers show as the excerpt: the given one, else the first 50 words of the text. */
  summary: string;
  /** The content rendered and sanitised (posts/markdown.ts), by renderer version `rendered_with`. */
  html: string;
  rendered_with: number;
  feature_image: string | null;
  reading_minutes: number;
  /** JSON array of the tag names, sorted (tags' names never change: the first spelling is kept). */
  tags: string;
  /** Visible comments. */
  comments_count: ColumnType<number, number | undefined, number>;
  favorites_count: ColumnType<number, number | undefined, number>;
  /** The number of its newest comment: the next one is this + 1. */
  last_comment_number: ColumnType<number, number | undefined, number>;
}

export interface PostSlugsTable {
  slug: string;
  post_id: string;
  created_at: Timestamp;
}

export interface TagsTable {
  id: string;
  slug: string;
  /** The first spelling of the tag. */
  name: string;
  /** Published posts with this tag. */
  posts_count: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
}

export interface PostTagsTable {
  post_id: string;
  tag_id: string;
  /** The post's published_at while it is published; null while it is not. */
  listed_at: ColumnType<Date | null, Date | null, Date | null>;
}

export interface FavoritesTable {
  user_id: string;
  post_id: string;
  created_at: Timestamp;
}

export interface FollowsTable {
  follower_id: string;
  author_id: string;
  created_at: Timestamp;
}

export type CommentStatus = 'visible' | 'pending';

export interface CommentsTable {
  id: string;
  post_id: string;
  /** 1, 2, … within its post. */
  number: number;
  author_id: string;
  /** Markdown. */
  body: string;
  html: string;
  rendered_with: number;
  status: CommentStatus;
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
  /** From when it signs; null means from created_at. Published in the JWKS from created_at. */
  activates_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface OAuthClientsTable {
  /** Orders the admin's pages (UUIDv7); the protocol names the client by `client_id`. */
  id: string;
  client_id: string;
  name: string;
  type: 'public' | 'confidential';
  /** A JSON array of the exact redirect URIs. */
  redirect_uris: string;
  /** The most the client may ask for, space-separated. */
  scopes: string;
  /** Trusted by the operator: its users are never asked to consent. */
  first_party: boolean;
  /** SHA-256 (base64url) of a confidential client's secret; null for a public client. */
  secret_hash: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AuthorizationCodesTable {
  /** SHA-256 (base64url) of the code: the code itself is never stored. */
  code_hash: string;
  client_id: string;
  user_id: string;
  /** The browser sign-in the code came from: its end voids the code. */
  browser_session_id: string;
  /** The redirect URI the request named (or the client's only one): a redemption that sends one must send it. */
  redirect_uri: string;
  /** RFC 7636: BASE64URL(SHA-256(code_verifier)). */
  code_challenge: string;
  scope: string;
  auth_time: Timestamp;
  created_at: Timestamp;
  expires_at: Timestamp;
  spent_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** The session its redemption made: a replay of the code ends it. */
  session_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** How the user signed in (RFC 8176 methods, space-separated); null for codes from before: pwd. */
  amr: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface OAuthConsentsTable {
  user_id: string;
  client_id: string;
  /** The scopes granted, space-separated: a request within them needs no new consent. */
  scopes: string;
  granted_at: Timestamp;
  last_used_at: Timestamp;
}

export interface MfaTotpTable {
  user_id: string;
  /** The base32 secret, sealed with KEY_ENCRYPTION_KEY (keys/key-encryption.ts). */
  secret_sealed: string;
  created_at: Timestamp;
  /** Null until a first code confirms the enrolment. */
  confirmed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** The last time step a code was accepted for: a code of it or an earlier one is refused. */
  last_step: ColumnType<string | number | null, number | null | undefined, number | null>;
}

export interface MfaRecoveryCodesTable {
  /** SHA-256 (base64url) of the normalised code. */
  code_hash: string;
  user_id: string;
  created_at: Timestamp;
  used_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface PasskeysTable {
  id: string;
  user_id: string;
  /** The credential id, base64url. */
  credential_id: string;
  /** The COSE public key, base64url. */
  public_key: string;
  counter: ColumnType<string | number, number, number>;
  /** The authenticator's transports, space-separated. */
  transports: string;
  /** `singleDevice` or `multiDevice` (WebAuthn backup eligibility). */
  device_type: string;
  backed_up: boolean;
  name: string;
  created_at: Timestamp;
  last_used_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface WebauthnChallengesTable {
  challenge: string;
  /** `register` or `sign_in`. */
  purpose: string;
  user_id: ColumnType<string | null, string | null | undefined, string | null>;
  expires_at: Timestamp;
}

export interface PendingSignInsTable {
  /** SHA-256 of the pending sign-in's cookie secret. */
  secret_hash: string;
  user_id: string;
  password_hash: string;
  sessions_epoch: number;
  failures: ColumnType<number, number | undefined, number>;
  seen_before: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface PersonalTokensTable {
  id: string;
  user_id: string;
  name: string;
  /** The scopes asked for, space-separated; the guard also applies what the role allows now. */
  scopes: string;
  /** SHA-256 (base64url) of the token: the token itself is never stored. */
  token_hash: string;
  created_at: Timestamp;
  /** The last request it made, to the minute; null until it makes one. */
  last_used_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  expires_at: Timestamp;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  revoked_reason: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  /** The scopes granted at login, space-separated; a refresh may narrow them, never widen. */
  scope: string;
  created_at: Timestamp;
  last_used_at: Timestamp;
  /** The absolute end: at most REFRESH_TOKEN_TTL (30 days) after login. */
  expires_at: Timestamp;
  user_agent: string;
  ip: string;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  revoked_reason: ColumnType<string | null, string | null | undefined, string | null>;
  /** The client the session was made for; null for sessions from before clients: the first-party one. */
  client_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** `token`: a client's tokens (a refresh token chain); `browser`: a browser's sign-in at the login page. */
  kind: ColumnType<'token' | 'browser', 'token' | 'browser' | undefined, 'token' | 'browser'>;
  /** When the user signed in (the password was checked); null for sessions from before: their created_at. */
  auth_time: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** How the user signed in (RFC 8176 methods, space-separated); null for sessions from before: pwd. */
  amr: ColumnType<string | null, string | null | undefined, string | null>;
  /** A browser session's cookie secret, as SHA-256; null for token sessions. */
  secret_hash: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface RefreshTokensTable {
  /** SHA-256 of the token, base64url. The token itself is never stored. */
  token_hash: string;
  session_id: string;
  created_at: Timestamp;
  spent_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  successor_hash: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ServerSecretsTable {
  name: string;
  value: string;
  created_at: Timestamp;
}

export interface LoginAddressesTable {
  user_id: string;
  /** Canonical (http/client-address.ts): IPv4, or an IPv6 /64. */
  address: string;
  last_login_at: Timestamp;
}

export interface ScheduledJobsTable {
  name: string;
  last_run_at: Timestamp;
}

export interface AuditEventsTable {
  /** UUIDv7. */
  id: string;
  occurred_at: Timestamp;
  type: string;
  /** Whose account the event concerns. */
  user_id: string | null;
  /** Who did it, when not the user (an admin). */
  actor_id: string | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  /** A small JSON object, as text: never a password, hash, token or key. */
  details: string;
  /** One stored event per key (throttled logins: per account, address and minute). */
  collapse_key: ColumnType<string | null, string | null | undefined, never>;
}

export interface AccountTokensTable {
  /** SHA-256 of the token, base64url: the token itself is only ever in the message. */
  token_hash: string;
  purpose: 'email_verification' | 'password_reset';
  user_id: string;
  /** The address it was sent to: void once the user's address is another. */
  email: string;
  /** Of the password hash it was issued against: void once the password changes. */
  password_fingerprint: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface MailOutboxTable {
  id: string;
  recipient: string;
  subject: string;
  /** The message (JSON of its text and HTML parts), sealed at rest; '' once sent. */
  body: string;
  created_at: Timestamp;
  next_attempt_at: Timestamp;
  attempts: ColumnType<number, number | undefined, number>;
  /** A worker holds it until then (one delivery across instances). */
  claimed_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
  sent_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  failed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
}

/** A change feed: a row per change to the tables it watches, written by triggers (db/change-feed.ts). */
export interface ChangesTable<Kind extends string> {
  id: Generated<number>;
  kind: Kind;
  subject: string;
  at: Generated<Date>;
}

/** The session cache's change feed: what the guard reads (sessions, users, personal tokens). */
export type SessionChangesTable = ChangesTable<'session' | 'user'>;
/** The public caches' change feed: what anyone's view of the blog shows (posts, comments, authors). */
export type ContentChangesTable = ChangesTable<'post' | 'comment' | 'tag' | 'user'>;

export interface Database {
  users: UsersTable;
  posts: PostsTable;
  post_slugs: PostSlugsTable;
  tags: TagsTable;
  post_tags: PostTagsTable;
  favorites: FavoritesTable;
  follows: FollowsTable;
  comments: CommentsTable;
  signing_keys: SigningKeysTable;
  sessions: SessionsTable;
  session_changes: SessionChangesTable;
  content_changes: ContentChangesTable;
  refresh_tokens: RefreshTokensTable;
  server_secrets: ServerSecretsTable;
  login_addresses: LoginAddressesTable;
  scheduled_jobs: ScheduledJobsTable;
  audit_events: AuditEventsTable;
  account_tokens: AccountTokensTable;
  mail_outbox: MailOutboxTable;
  oauth_clients: OAuthClientsTable;
  authorization_codes: AuthorizationCodesTable;
  oauth_consents: OAuthConsentsTable;
  personal_tokens: PersonalTokensTable;
  mfa_totp: MfaTotpTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  passkeys: PasskeysTable;
  webauthn_challenges: WebauthnChallengesTable;
  pending_sign_ins: PendingSignInsTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type OAuthClientRow = Selectable<OAuthClientsTable>;
export type PostRow = Selectable<PostsTable>;
export type NewPost = Insertable<PostsTable>;
export type PostUpdate = Updateable<PostsTable>;
export type CommentRow = Selectable<CommentsTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
export type SessionRow = Selectable<SessionsTable>;
export type PersonalTokenRow = Selectable<PersonalTokensTable>;
export type PasskeyRow = Selectable<PasskeysTable>;
export type NewSession = Insertable<SessionsTable>;
export type RefreshTokenRow = Selectable<RefreshTokensTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type NewAuditEvent = Insertable<AuditEventsTable>;
export type NewMailMessage = Insertable<MailOutboxTable>;
export type AccountTokenRow = Selectable<AccountTokensTable>;
