import type { Kysely } from 'kysely';

// Frozen: the client a session was made for. Sessions from before are the first-party client's
// (CLIENT_ID, a setting this migration cannot read): null here, read as CLIENT_ID. Never import app
// code here.

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('client_id', 'text').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: as above.
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('client_id').execute();
}
