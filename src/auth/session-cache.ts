import { LRUCache } from 'lru-cache';
import type { Role } from '../accounts/roles.ts';
import type { Clock } from '../clock.ts';

/** What the guard asks of every request: is session `sid` live, and who is its user now? */
export interface SessionState {
  readonly sessionId: string;
  readonly userId: string;
  readonly role: Role;
  readonly disabled: boolean;
  readonly revoked: boolean;
  /** The earlier of the absolute end and the idle end (last use + SESSION_IDLE_DAYS). */
  readonly liveUntil: Date;
}

export interface SessionCache {
  get(sessionId: string): Promise<SessionState | undefined>;
  /** After this instance changed the session (revoked it, refreshed it). */
  forgetSession(sessionId: string): void;
  /** After this instance changed the user (role, disabled, deleted, logged out everywhere). */
  forgetUser(userId: string): void;
}

/** Other instances learn of a change by expiry alone, so no entry is trusted for longer than this. */
export const SESSION_CACHE_MAX_AGE_MS = 1000;

/**
 * An in-process cache in front of one indexed query, so that the common protected request makes no
 * database round trip. The instance that makes a change forgets the entries it touched at once; an
 * entry is never trusted for more than one second, which bounds how long another instance can lag.
 * Concurrent misses for one session share one query.
 */
export function createSessionCache(options: {
  load: (sessionId: string) => Promise<SessionState | undefined>;
  clock: Clock;
  maxAgeMs?: number;
  max?: number;
}): SessionCache {
  const { load, clock } = options;
  const maxAgeMs = options.maxAgeMs ?? SESSION_CACHE_MAX_AGE_MS;
  const entries = new LRUCache<string, { state: SessionState | null; loadedAt: number }>({
    max: options.max ?? 100_000,
  });
  const pending = new Map<string, Promise<SessionState | undefined>>();
  // Bumped on every invalidation, so a query that started before it cannot store a stale answer.
  let generation = 0;

  return {
    async get(sessionId) {
      const now = clock.now().getTime();
      const entry = entries.get(sessionId);
      if (entry && now - entry.loadedAt < maxAgeMs && now >= entry.loadedAt) return entry.state ?? undefined;
      let loading = pending.get(sessionId);
      if (!loading) {
        const startedAt = generation;
        loading = load(sessionId).finally(() => pending.delete(sessionId));
        pending.set(sessionId, loading);
        loading.then(
          (state) => {
            if (startedAt === generation) entries.set(sessionId, { state: state ?? null, loadedAt: now });
          },
          () => {},
        );
      }
      return loading;
    },
    forgetSession(sessionId) {
      generation += 1;
      entries.delete(sessionId);
      pending.delete(sessionId);
    },
    forgetUser(userId) {
      generation += 1;
      for (const [sessionId, entry] of entries.entries()) {
        if (entry.state?.userId === userId) entries.delete(sessionId);
      }
      pending.clear();
    },
  };
}
