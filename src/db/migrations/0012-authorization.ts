import type { Kysely } from 'kysely';
import { isPostgres } from '../dialect.ts';

// Frozen: the authorization code flow. A browser's sign-in at the login page is a session of kind
// `browser` (its cookie's secret kept only as a hash); every session knows when and how its user
// signed in (auth_time, amr). Codes are kept as hashes, live 60 s and are spent once; consents say
// which scopes a user granted a client. Never import app code here.

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  const id = isPostgres(db) ? 'uuid' : 'text';
  await db.schema
    .alterTable('sessions')
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('token'))
    .execute();
  await db.schema.alterTable('sessions').addColumn('auth_time', 'timestamptz').execute();
  await db.schema.alterTable('sessions').addColumn('secret_hash', 'text').execute();
  await db.schema.createIndex('sessions_secret_idx').on('sessions').column('secret_hash').unique().execute();

  await db.schema
    .createTable('authorization_codes')
    .addColumn('code_hash', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('user_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('browser_session_id', id, (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('code_challenge', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('auth_time', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('spent_at', 'timestamptz')
    // The session the code was redeemed for: a replay of the code ends it (RFC 6749 §4.1.2).
    .addColumn('session_id', id)
    .execute();
  await db.schema
    .createIndex('authorization_codes_expiry_idx')
    .on('authorization_codes')
    .column('expires_at')
    .execute();

  await db.schema
    .createTable('oauth_consents')
    .addColumn('user_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('granted_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_used_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('oauth_consents_pk', ['user_id', 'client_id'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: as above.
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('oauth_consents').execute();
  await db.schema.dropTable('authorization_codes').execute();
  await db.schema.dropIndex('sessions_secret_idx').execute();
  for (const column of ['secret_hash', 'auth_time', 'kind']) {
    await db.schema.alterTable('sessions').dropColumn(column).execute();
  }
}
