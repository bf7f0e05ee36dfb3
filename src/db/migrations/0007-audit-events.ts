import type { Kysely } from 'kysely';
import { isPostgres } from '../dialect.ts';

// Frozen: the audit log, security events kept as data. Never import app code here.

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  const id = isPostgres(db) ? 'uuid' : 'text';

  // No foreign keys: an event outlives the user, session or admin it names (a deleted account's
  // history is what an investigation needs). Retention (AUDIT_RETENTION_DAYS) bounds the table.
  await db.schema
    .createTable('audit_events')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('user_id', id)
    .addColumn('actor_id', id)
    .addColumn('session_id', id)
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    // A small JSON object, as text on both engines.
    .addColumn('details', 'text', (c) => c.notNull().defaultTo('{}'))
    // Events that may come in floods (throttled logins) carry a key per account, address and minute:
    // a second one in the same minute is not stored. NULLs never collide, on either engine.
    .addColumn('collapse_key', 'text', (c) => c.unique())
    .execute();
  // Newest first, overall (and the retention purge), per user, per type.
  await db.schema
    .createIndex('audit_events_time_idx')
    .on('audit_events')
    .columns(['occurred_at', 'id'])
    .execute();
  await db.schema
    .createIndex('audit_events_user_idx')
    .on('audit_events')
    .columns(['user_id', 'occurred_at', 'id'])
    .execute();
  await db.schema
    .createIndex('audit_events_type_idx')
    .on('audit_events')
    .columns(['type', 'occurred_at', 'id'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_events').execute();
}
