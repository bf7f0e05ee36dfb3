import { isPostgres } from './dialect.ts';
import { type Kysely, sql } from './kysely.ts';
import { deleteInBatches } from './scheduled-jobs.ts';
import type { Database } from './schema.ts';

/** One change a feed names: what kind of thing changed, and which one. */
export interface Change<Kind extends string = string> {
  readonly kind: Kind;
  readonly subject: string;
}

export interface ChangeLook<Kind extends string = string> {
  /** The changes committed since the last look (on the first look: the newest ones). */
  readonly changes: readonly Change<Kind>[];
  /** False when there were more than one look reads: the reader must forget everything. */
  readonly complete: boolean;
}

/**
 * The rows that triggers add to a change table in the transaction of every change to the tables it
 * watches (session_changes: migration 0017; content_changes: 0018). Each look returns what committed
 * since the one before, and misses nothing that committed before the look began.
 */
export interface ChangeFeed<Kind extends string = string> {
  look(): Promise<ChangeLook<Kind>>;
}

/** The change tables, each written by its own migration's triggers (they share one shape). */
export type ChangeTable = 'session_changes' | 'content_changes';

/** Rows read at most per look; a look that finds more forgets everything instead. */
const LOOK_ROWS = 2000;

export function createChangeFeed<Kind extends string>(
  db: Kysely<Database>,
  table: ChangeTable,
  lookRows = LOOK_ROWS,
): ChangeFeed<Kind> {
  return isPostgres(db) ? postgresFeed(db, table, lookRows) : sqliteFeed(db, table, lookRows);
}

/** SQLite commits one writer at a time, so ids grow in commit order: past the last id seen is exact. */
function sqliteFeed<Kind extends string>(
  db: Kysely<Database>,
  table: ChangeTable,
  lookRows: number,
): ChangeFeed<Kind> {
  let last = 0;
  return {
    async look() {
      // Both tables have one shape; the query is typed by the first.
      const rows = await db
        .selectFrom(table as 'session_changes')
        .select(['id', 'kind', 'subject'])
        .where('id', '>', last)
        .orderBy('id', 'desc')
        .limit(lookRows)
        .execute();
      if (rows.length > 0) last = rows[0]!.id;
      return {
        changes: rows.map(({ kind, subject }) => ({ kind: kind as Kind, subject })),
        complete: rows.length < lookRows,
      };
    },
  };
}

/**
 * PostgreSQL hands out ids before commit, so they commit out of order. A row this look cannot see
 * belongs to a transaction still running or not yet begun — at or after the oldest one running now
 * (the snapshot's xmin) — so the next look asks for every row of a transaction from there on, in
 * the same statement as it reads that horizon, and skips the rows it already passed on.
 */
function postgresFeed<Kind extends string>(
  db: Kysely<Database>,
  table: ChangeTable,
  lookRows: number,
): ChangeFeed<Kind> {
  let horizon = '0';
  /** The rows passed on whose transaction is at or after the horizon: the next look sees them again. */
  let passed = new Set<number>();
  return {
    async look() {
      const { rows } = await sql<{
        horizon: string;
        changes: Array<[number, Kind, string, string]>;
      }>`
        select pg_snapshot_xmin(pg_current_snapshot())::text as horizon,
          coalesce((select json_agg(json_build_array(c.id, c.kind, c.subject, c.xid::text))
            from (select id, kind, subject, xid from ${sql.table(table)}
                  where xid >= ${horizon}::xid8 order by id desc limit ${lookRows}) c), '[]'::json) as changes`.execute(
        db,
      );
      const { horizon: next, changes: read } = rows[0]!;
      const nextHorizon = BigInt(next);
      const changes: Change<Kind>[] = [];
      const stillVisible = new Set<number>();
      for (const [id, kind, subject, xid] of read) {
        if (BigInt(xid) >= nextHorizon) stillVisible.add(id);
        if (!passed.has(id)) changes.push({ kind, subject });
      }
      horizon = next;
      passed = stillVisible;
      return { changes, complete: read.length < lookRows };
    },
  };
}

/** How long rows are kept: a reader that did not look for longer forgets everything (change-watch.ts). */
export const CHANGES_KEPT_MS = 3_600_000;

/** Deletes a change table's rows older than CHANGES_KEPT_MS by the database's own clock (the one that stamped them). */
export function purgeChanges(db: Kysely<Database>, table: ChangeTable): Promise<number> {
  const BATCH = 1000;
  const seconds = CHANGES_KEPT_MS / 1000;
  const cutoff = isPostgres(db)
    ? sql<Date>`now() - make_interval(secs => ${seconds})`
    : sql<Date>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ${`-${seconds} seconds`})`;
  return deleteInBatches(async () => {
    const result = await db
      .deleteFrom(table as 'session_changes')
      .where('id', 'in', (eb) =>
        eb
          .selectFrom(table as 'session_changes')
          .select('id')
          .where('at', '<', cutoff)
          .orderBy('id')
          .limit(BATCH),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }, BATCH);
}
