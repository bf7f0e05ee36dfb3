import type { Kysely } from 'kysely';
import { isPostgres } from '../dialect.ts';

// Frozen: the OAuth clients (RFC 6749 §2). A client's secret is kept only as a hash; its redirect
// URIs as a JSON array, matched exactly (one matcher, oauth/clients/redirect-uris.ts). `id` orders
// the admin's pages; `client_id` is what the protocol names. Never import app code here.

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  const id = isPostgres(db) ? 'uuid' : 'text';
  await db.schema
    .createTable('oauth_clients')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('redirect_uris', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('first_party', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('secret_hash', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('oauth_clients_created_idx')
    .on('oauth_clients')
    .columns(['created_at', 'id'])
    .execute();
  // What a client's deletion ends: its sessions, found by client.
  await db.schema
    .createIndex('sessions_client_idx')
    .on('sessions')
    .columns(['client_id', 'user_id'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: as above.
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('sessions_client_idx').execute();
  await db.schema.dropTable('oauth_clients').execute();
}
