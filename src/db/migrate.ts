import type { Migration, MigrationProvider } from 'kysely';
import { isPostgres } from './dialect.ts';
import { type Kysely, Migrator, sql } from './kysely.ts';
import * as m0001 from './migrations/0001-initial.ts';
import * as m0002 from './migrations/0002-sessions.ts';
import * as m0003 from './migrations/0003-key-activation.ts';
import * as m0004 from './migrations/0004-login-hardening.ts';
import * as m0005 from './migrations/0005-scheduled-jobs.ts';
import * as m0006 from './migrations/0006-post-search.ts';
import * as m0007 from './migrations/0007-audit-events.ts';
import * as m0008 from './migrations/0008-account-recovery.ts';
import * as m0009 from './migrations/0009-pending-email.ts';
import * as m0010 from './migrations/0010-session-client.ts';
import * as m0011 from './migrations/0011-oauth-clients.ts';
import * as m0012 from './migrations/0012-authorization.ts';
import * as m0013 from './migrations/0013-personal-tokens.ts';
import * as m0014 from './migrations/0014-mfa.ts';
import * as m0015 from './migrations/0015-profiles.ts';
import * as m0016 from './migrations/0016-blog.ts';
import * as m0017 from './migrations/0017-session-changes.ts';
import * as m0018 from './migrations/0018-content-changes.ts';
import type { Database } from './schema.ts';

/** A static list: migrations are code, shipped with the app, applied in name order. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-sessions': m0002,
  '0003-key-activation': m0003,
  '0004-login-hardening': m0004,
  '0005-scheduled-jobs': m0005,
  '0006-post-search': m0006,
  '0007-audit-events': m0007,
  '0008-account-recovery': m0008,
  '0009-pending-email': m0009,
  '0010-session-client': m0010,
  '0011-oauth-clients': m0011,
  '0012-authorization': m0012,
  '0013-personal-tokens': m0013,
  '0014-mfa': m0014,
  '0015-profiles': m0015,
  '0016-blog': m0016,
  '0017-session-changes': m0017,
  '0018-content-changes': m0018,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Applies every pending migration; throws (with the failing one named) when any fails. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const schema = await currentSchema(db);
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'inkgate_migrations',
    migrationLockTableName: 'inkgate_migrations_lock',
    // On PostgreSQL, Kysely looks for its tables in every schema unless told which; name the
    // connection's own (search_path), so that deployments sharing a database keep apart.
    ...(schema !== undefined && { migrationTableSchema: schema }),
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  const failed = results.find((result) => result.status === 'Error');
  if (error) {
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed`, { cause: error });
  }
  return results.filter((result) => result.status === 'Success').map((result) => result.migrationName);
}

async function currentSchema(db: Kysely<Database>): Promise<string | undefined> {
  if (!isPostgres(db)) return undefined;
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return rows[0]?.schema;
}
