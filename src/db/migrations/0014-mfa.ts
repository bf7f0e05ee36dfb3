import type { Kysely } from 'kysely';
import { isPostgres } from '../dialect.ts';

// Frozen: second factors. A TOTP secret is kept sealed (KEY_ENCRYPTION_KEY) with the last time step
// it accepted, so that no code is accepted twice (RFC 6238 §5.2); recovery codes only as hashes, each
// spent once; passkeys by credential id with their public key, counter and backup flags; WebAuthn
// challenges until used or expired. The users row says which factors the account has (for every
// answer and the guard's one query); sessions and codes how their user signed in (amr). A sign-in at
// the login page waiting for its second factor is a pending sign-in. Never import app code here.

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  const id = isPostgres(db) ? 'uuid' : 'text';
  await db.schema
    .alterTable('users')
    .addColumn('mfa_totp', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema
    .alterTable('users')
    .addColumn('mfa_passkeys', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // RFC 8176 methods, space-separated; null for sessions and codes from before: a password.
  await db.schema.alterTable('sessions').addColumn('amr', 'text').execute();
  await db.schema.alterTable('authorization_codes').addColumn('amr', 'text').execute();

  await db.schema
    .createTable('mfa_totp')
    .addColumn('user_id', id, (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    // Null until a first code confirms the enrolment.
    .addColumn('confirmed_at', 'timestamptz')
    // The last time step (Unix time / 30 s) a code was accepted for.
    .addColumn('last_step', 'bigint')
    .execute();

  await db.schema
    .createTable('mfa_recovery_codes')
    .addColumn('code_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('mfa_recovery_codes_user_idx')
    .on('mfa_recovery_codes')
    .column('user_id')
    .execute();

  await db.schema
    .createTable('passkeys')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('user_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('credential_id', 'text', (c) => c.notNull().unique())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('counter', 'bigint', (c) => c.notNull())
    .addColumn('transports', 'text', (c) => c.notNull())
    .addColumn('device_type', 'text', (c) => c.notNull())
    .addColumn('backed_up', 'boolean', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('passkeys_user_idx').on('passkeys').column('user_id').execute();

  await db.schema
    .createTable('webauthn_challenges')
    .addColumn('challenge', 'text', (c) => c.primaryKey())
    .addColumn('purpose', 'text', (c) => c.notNull())
    // The account a registration is for; null for a sign-in (a discoverable passkey names its user).
    .addColumn('user_id', id, (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('pending_sign_ins')
    .addColumn('secret_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    // What the password was checked against: a change since voids the pending sign-in.
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('sessions_epoch', 'integer', (c) => c.notNull())
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('seen_before', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: as above.
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'pending_sign_ins',
    'webauthn_challenges',
    'passkeys',
    'mfa_recovery_codes',
    'mfa_totp',
  ]) {
    await db.schema.dropTable(table).execute();
  }
  await db.schema.alterTable('authorization_codes').dropColumn('amr').execute();
  await db.schema.alterTable('sessions').dropColumn('amr').execute();
  await db.schema.alterTable('users').dropColumn('mfa_passkeys').execute();
  await db.schema.alterTable('users').dropColumn('mfa_totp').execute();
}
