import { type Kysely, PostgresAdapter } from './kysely.ts';

/**
 * The one way to know the SQL dialect of a connection or a transaction: PostgreSQL, or else the
 * embedded SQLite. Where the two differ (row locks, column types, search), code asks this.
 */
// biome-ignore lint/suspicious/noExplicitAny: any database schema; only the executor is read
export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
