import type { Kysely } from 'kysely';

// Frozen: when each scheduled job (purges, retention) last ran, so that one instance runs it per period.

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('scheduled_jobs')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('last_run_at', 'timestamptz', (c) => c.notNull())
    .execute();
  // The purge of ended sessions walks these instead of the whole table.
  await db.schema.createIndex('sessions_expires_idx').on('sessions').column('expires_at').execute();
  await db.schema.createIndex('refresh_tokens_spent_idx').on('refresh_tokens').column('spent_at').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('refresh_tokens_spent_idx').execute();
  await db.schema.dropIndex('sessions_expires_idx').execute();
  await db.schema.dropTable('scheduled_jobs').execute();
}
