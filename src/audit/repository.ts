import type { Kysely } from 'kysely';
import type { Cursor } from '../db/cursor.ts';
import { olderThan } from '../db/keyset.ts';
import { deleteInBatches } from '../db/scheduled-jobs.ts';
import type { AuditEventRow, Database, NewAuditEvent } from '../db/schema.ts';

/**
 * Stores events with `db`: the transaction of the change they record, so that a change that rolls
 * back leaves no event and no committed change lacks one. An event whose collapse key is already
 * stored is skipped.
 */
export async function insertAuditEvents(db: Kysely<Database>, events: readonly NewAuditEvent[]) {
  if (events.length === 0) return;
  await db
    .insertInto('audit_events')
    .values([...events])
    .onConflict((oc) => oc.column('collapse_key').doNothing())
    .execute();
}

/**
 * Runs `write` and stores `events` in one transaction (the caller's, when `db` is one already); the
 * events only when the write changed something (it answered neither undefined nor false).
 */
export async function withAuditEvents<T>(
  db: Kysely<Database>,
  events: readonly NewAuditEvent[],
  write: (db: Kysely<Database>) => Promise<T>,
): Promise<T> {
  if (events.length === 0) return write(db);
  const run = async (trx: Kysely<Database>) => {
    const result = await write(trx);
    if (result !== undefined && result !== false) await insertAuditEvents(trx, events);
    return result;
  };
  return db.isTransaction ? run(db) : db.transaction().execute(run);
}

export interface AuditFilter {
  readonly types?: readonly string[];
  readonly userId?: string;
  /** Inclusive. */
  readonly since?: Date;
  /** Exclusive. */
  readonly until?: Date;
  readonly after?: Cursor;
  readonly limit: number;
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;

export function createAuditRepository(db: Kysely<Database>) {
  return {
    /** Newest first, keyset-paged on (occurred_at, id); limit + 1 rows, for toPage. */
    list: (filter: AuditFilter): Promise<Omit<AuditEventRow, 'collapse_key'>[]> => {
      let query = db
        .selectFrom('audit_events')
        .select([
          'id',
          'occurred_at',
          'type',
          'user_id',
          'actor_id',
          'session_id',
          'ip',
          'user_agent',
          'details',
        ]);
      if (filter.types) query = query.where('type', 'in', [...filter.types]);
      if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
      if (filter.since) query = query.where('occurred_at', '>=', filter.since);
      if (filter.until) query = query.where('occurred_at', '<', filter.until);
      if (filter.after) query = query.where(olderThan(filter.after, 'occurred_at', 'id'));
      return query
        .orderBy('occurred_at', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit + 1)
        .execute();
    },

    /** Retention: deletes the events that occurred before `cutoff`, in batches. */
    purge: (cutoff: Date): Promise<number> => {
      const BATCH = 500;
      return deleteInBatches(async () => {
        const result = await db
          .deleteFrom('audit_events')
          .where('id', 'in', (eb) =>
            eb.selectFrom('audit_events').select('id').where('occurred_at', '<', cutoff).limit(BATCH),
          )
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      }, BATCH);
    },
  };
}
