import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import { boundedCache, stringBytes } from '../bounded-cache.ts';
import type { Clock } from '../clock.ts';
import type { Database, NewAuditEvent } from '../db/schema.ts';
import type { AuditEventInput, AuditEventType } from './events.ts';
import { insertAuditEvents } from './repository.ts';

/** Events that call for someone's attention are logged as warnings. */
const WARNINGS: ReadonlySet<string> = new Set(['refresh_token_reuse', 'login_throttled']);

/** Events waiting to be stored after their answer; beyond this (a long outage) the oldest are dropped. */
const MAX_PENDING = 10_000;
const BATCH = 500;
const RETRY_MS = 1000;

export type AuditTrail = ReturnType<typeof createAuditTrail>;

/**
 * The audit log's one way in. A change that must carry its event builds it with `event()`, stores it
 * in its own transaction (repository.ts: insertAuditEvents, withAuditEvents), and once that commits
 * calls `published()` for the log line. An event about a request that changes nothing goes through
 * `later()`: logged at once, stored in the next batch, so the answer never waits for it.
 */
export function createAuditTrail(deps: {
  db: Kysely<Database>;
  clock: Clock;
  log?: FastifyBaseLogger | undefined;
}) {
  const { db, clock } = deps;
  const pending: NewAuditEvent[] = [];
  // Keys already stored in this process: a flood repeats one key, and needs no write for each.
  const collapsed = boundedCache<string, true>({
    entries: 10_000,
    bytes: 2 * 1024 * 1024,
    sizeOf: (_, key) => stringBytes(key) + 32,
  });
  let flushing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let dropped = 0;
  let failing = false;

  function event(type: AuditEventType, input: AuditEventInput): NewAuditEvent {
    return {
      id: uuidv7(),
      occurred_at: clock.now(),
      type,
      user_id: input.userId ?? null,
      actor_id: input.actorId ?? null,
      session_id: input.sessionId ?? null,
      ip: input.ip ?? null,
      user_agent: input.userAgent ?? null,
      details: JSON.stringify(input.details ?? {}),
      collapse_key: input.collapseKey ?? null,
    };
  }

  /** One structured line per event (`event: <type>`), so a log pipeline sees the same facts. */
  function published(events: readonly NewAuditEvent[], log = deps.log): void {
    if (!log) return;
    for (const stored of events) {
      const line = {
        event: stored.type,
        eventId: stored.id,
        userId: stored.user_id ?? undefined,
        actorId: stored.actor_id ?? undefined,
        sessionId: stored.session_id ?? undefined,
        ip: stored.ip ?? undefined,
        userAgent: stored.user_agent ?? undefined,
        details: JSON.parse(stored.details) as unknown,
      };
      if (WARNINGS.has(stored.type)) log.warn(line, `security event: ${stored.type}`);
      else log.info(line, `security event: ${stored.type}`);
    }
  }

  async function storePending(): Promise<void> {
    while (pending.length > 0) {
      const batch = pending.slice(0, BATCH);
      try {
        await insertAuditEvents(db, batch);
      } catch (error) {
        if (!failing) deps.log?.warn({ err: error }, 'audit events could not be stored; retrying');
        failing = true;
        schedule(RETRY_MS);
        return;
      }
      pending.splice(0, batch.length);
      if (failing) deps.log?.info({ dropped }, 'audit events are stored again');
      failing = false;
      dropped = 0;
    }
  }

  function schedule(delayMs: number) {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, delayMs);
    timer.unref();
  }

  /** Stores what is waiting; resolves when done (or when the database refused: retried later). */
  function flush(): Promise<void> {
    flushing ??= storePending().finally(() => {
      flushing = undefined;
    });
    return flushing;
  }

  return {
    event,
    published,
    flush,

    /**
     * Records an event about a request that changed nothing, without making its answer wait: logged
     * now, stored with the next batch. With a collapse key, only the first of its key is kept.
     */
    later(type: AuditEventType, input: AuditEventInput, log?: FastifyBaseLogger): void {
      if (input.collapseKey !== undefined) {
        if (collapsed.has(input.collapseKey)) return;
        collapsed.set(input.collapseKey, true);
      }
      const stored = event(type, input);
      published([stored], log);
      pending.push(stored);
      if (pending.length > MAX_PENDING) {
        pending.shift();
        dropped += 1;
      }
      schedule(0);
    },

    /** Stores what is waiting and stops retrying (the database closes next). */
    async close(): Promise<void> {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await flush();
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (pending.length > 0) deps.log?.warn({ lost: pending.length }, 'audit events lost at shutdown');
    },
  };
}
