import type { Kysely } from 'kysely';
import { isPostgres } from '../dialect.ts';

// Frozen: remembered login addresses (no lockout of the owner) and the per-user counter that a login
// racing a password change, a disable or a logout-everywhere is checked against. Never import app code here.

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  const id = isPostgres(db) ? 'uuid' : 'text';

  // Bumped whenever all of a user's sessions end: a login that read an older value creates none.
  await db.schema
    .alterTable('users')
    .addColumn('sessions_epoch', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  // (user, canonical address) pairs with a successful login in the last 30 days.
  await db.schema
    .createTable('login_addresses')
    .addColumn('user_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('last_login_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('login_addresses_pkey', ['user_id', 'address'])
    .execute();
  await db.schema
    .createIndex('login_addresses_last_idx')
    .on('login_addresses')
    .column('last_login_at')
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('login_addresses').execute();
  await db.schema.alterTable('users').dropColumn('sessions_epoch').execute();
}
