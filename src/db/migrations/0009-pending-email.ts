import type { Kysely } from 'kysely';

// Frozen: with EMAIL_VERIFICATION=required a new address waits here until the link sent to it is
// used; the address in `email` stays the account's until then. Never import app code here.

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('pending_email', 'text').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: as above.
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('pending_email').execute();
}
