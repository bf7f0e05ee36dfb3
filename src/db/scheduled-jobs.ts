import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.ts';
import type { Database } from './schema.ts';

export interface ScheduledJob {
  readonly name: string;
  /** The job runs once per this many milliseconds across every instance sharing the database. */
  readonly everyMs: number;
  /** Answers what it did, for the log line (rows deleted, …). */
  run(now: Date): Promise<Record<string, number>>;
}

/**
 * Claims this period's run of `name`: true on exactly one instance. The claim is one conditional
 * UPDATE, which PostgreSQL re-checks against the row a concurrent claimer just wrote (so the second
 * finds nothing to update) and SQLite runs one at a time.
 */
export async function claimJob(
  db: Kysely<Database>,
  name: string,
  everyMs: number,
  now: Date,
): Promise<boolean> {
  await db
    .insertInto('scheduled_jobs')
    .values({ name, last_run_at: new Date(0) })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const claimed = await db
    .updateTable('scheduled_jobs')
    .set({ last_run_at: now })
    .where('name', '=', name)
    .where('last_run_at', '<=', new Date(now.getTime() - everyMs))
    .executeTakeFirst();
  return Number(claimed.numUpdatedRows) === 1;
}

/** How often each instance asks whether a job is due, at most (a job due more often is asked for as often). */
const CHECK_EVERY_MS = 60_000;

/** Runs each job when it is due, on whichever instance claims it first. */
export function startScheduledJobs(options: {
  db: Kysely<Database>;
  clock: Clock;
  log: FastifyBaseLogger;
  jobs: readonly ScheduledJob[];
}): { stop(): Promise<void>; runDue(): Promise<void> } {
  const { db, clock, log, jobs } = options;
  let running: Promise<void> | undefined;
  const runDue = async () => {
    for (const job of jobs) {
      const now = clock.now();
      try {
        if (!(await claimJob(db, job.name, job.everyMs, now))) continue;
        const done = await job.run(now);
        log.info({ job: job.name, ...done }, 'scheduled job ran');
      } catch (error) {
        log.warn({ job: job.name, err: error }, 'scheduled job failed; it runs again when next due');
      }
    }
  };
  const tick = () => {
    if (running) return;
    running = runDue().finally(() => {
      running = undefined;
    });
  };
  const timer = setInterval(tick, Math.min(CHECK_EVERY_MS, ...jobs.map((job) => job.everyMs)));
  timer.unref();
  setImmediate(tick);
  return {
    /** Ends the timer and waits for a run in progress (the database closes next). */
    stop: async () => {
      clearInterval(timer);
      await running;
    },
    runDue,
  };
}

/**
 * Deletes in batches of `batch` rows, yielding to the event loop between them, so that a purge of a
 * large table never holds the loop (node:sqlite runs on it) or a connection for long.
 */
export async function deleteInBatches(deleteBatch: () => Promise<number>, batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await deleteBatch();
    total += deleted;
    if (deleted < batch) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
