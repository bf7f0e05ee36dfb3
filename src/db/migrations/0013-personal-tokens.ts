import type { Kysely } from 'kysely';
import { isPostgres } from '../dialect.ts';

// Frozen: personal access tokens, for scripts that act as their user. Only a token's SHA-256 is
// kept; it carries the scopes asked for, ends at expires_at or when revoked, and goes with its user.
// Never import app code here.

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  const id = isPostgres(db) ? 'uuid' : 'text';
  await db.schema
    .createTable('personal_tokens')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('user_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revoked_reason', 'text')
    .execute();
  // A user's list and their count (the cap), and what the purge job finds.
  await db.schema
    .createIndex('personal_tokens_user_idx')
    .on('personal_tokens')
    .columns(['user_id', 'created_at'])
    .execute();
  await db.schema
    .createIndex('personal_tokens_expiry_idx')
    .on('personal_tokens')
    .column('expires_at')
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: as above.
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('personal_tokens').execute();
}
