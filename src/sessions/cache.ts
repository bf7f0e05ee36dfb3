import type { AccountSnapshot } from '../authz/principal.ts';
import type { Role } from '../authz/roles.ts';
import type { Scope } from '../authz/scopes.ts';
import { boundedCache, stringBytes } from '../bounded-cache.ts';
import type { Clock } from '../clock.ts';
import type { SharedRedis } from '../redis/shared-redis.ts';

/** A personal access token's own facts, when the entry is one (personal-tokens/ loads them). */
export interface PersonalTokenFacts {
  readonly id: string;
  /** The scopes it was made with; the guard applies what the role allows now. */
  readonly scopes: readonly Scope[];
  readonly createdAt: Date;
}

/**
 * What the guard asks of every request: is session `sid` (or the personal access token) live, and
 * who is its user now?
 */
export interface SessionState {
  readonly sessionId: string;
  readonly userId: string;
  readonly role: Role;
  readonly disabled: boolean;
  readonly revoked: boolean;
  /** The earlier of the absolute end and the idle end (last use + SESSION_IDLE_DAYS). */
  readonly liveUntil: Date;
  /** The user's account as read with the session; every change to it forgets the entry. */
  readonly account: AccountSnapshot;
  /** Set when the entry is a personal access token's (`sessionId` is then its cache key). */
  readonly personal?: PersonalTokenFacts;
}

export interface SessionCache {
  get(sessionId: string): Promise<SessionState | undefined>;
  /** After this instance changed the session (revoked it, refreshed it). */
  forgetSession(sessionId: string): void;
  /** After this instance changed the user (profile, role, disabled, deleted, logged out everywhere). */
  forgetUser(userId: string): void;
  /** Resolves once this instance hears other instances' changes (at once without Redis). */
  readonly listening: Promise<void>;
}

/** Other instances learn of a change by expiry alone, so no entry is trusted for longer than this. */
const SESSION_CACHE_MAX_AGE_MS = 1000;
/** At most this many sessions kept, and about this many bytes (an entry: its ids, dates and flags, and the account's texts). */
const SESSION_CACHE_ENTRIES = 50_000;
const SESSION_CACHE_BYTES = 32 * 1024 * 1024;
const SESSION_ENTRY_BYTES = 480;

/**
 * An in-process cache in front of one indexed query, so that the common protected request makes no
 * database round trip. The instance that makes a change forgets the entries it touched at once and,
 * with Redis, tells every other instance to do the same; an entry is never trusted for more than one
 * second, which bounds how long another instance can lag when that message is lost (Redis down).
 * Concurrent misses for one session share one query.
 */
export function createSessionCache(options: {
  load: (sessionId: string) => Promise<SessionState | undefined>;
  clock: Clock;
  maxAgeMs?: number;
  max?: number;
  /** With Redis, every change is broadcast, and other instances forget at once instead of within 1 s. */
  redis?: SharedRedis;
  /** Told of every lookup, hit or not (for /metrics). */
  onLookup?: (hit: boolean) => void;
}): SessionCache {
  const { load, clock } = options;
  const maxAgeMs = options.maxAgeMs ?? SESSION_CACHE_MAX_AGE_MS;
  const entries = boundedCache<string, { state: SessionState | null; loadedAt: number }>({
    entries: options.max ?? SESSION_CACHE_ENTRIES,
    bytes: SESSION_CACHE_BYTES,
    sizeOf: ({ state }, key) => {
      const account = state?.account;
      return (
        stringBytes(key) +
        SESSION_ENTRY_BYTES +
        (account
          ? stringBytes(account.username) +
            stringBytes(account.email) +
            stringBytes(account.full_name) +
            stringBytes(account.bio) +
            stringBytes(account.image ?? '') +
            stringBytes(account.pending_email ?? '')
          : 0)
      );
    },
  });
  const pending = new Map<string, Promise<SessionState | undefined>>();
  // Bumped on every invalidation, so a query that started before it cannot store a stale answer.
  let generation = 0;

  const forgetSession = (sessionId: string) => {
    generation += 1;
    entries.delete(sessionId);
    pending.delete(sessionId);
  };
  const forgetUser = (userId: string) => {
    generation += 1;
    for (const [sessionId, entry] of entries.entries()) {
      if (entry.state?.userId === userId) entries.delete(sessionId);
    }
    pending.clear();
  };

  const channel = 'revocations';
  const subscribed = options.redis?.subscribe(channel, (message) => {
    if (message.kind === 'session' && typeof message.id === 'string') forgetSession(message.id);
    if (message.kind === 'user' && typeof message.id === 'string') forgetUser(message.id);
  });

  return {
    listening: subscribed ?? Promise.resolve(),
    async get(sessionId) {
      const now = clock.now().getTime();
      const entry = entries.get(sessionId);
      if (entry && now - entry.loadedAt < maxAgeMs && now >= entry.loadedAt) {
        options.onLookup?.(true);
        return entry.state ?? undefined;
      }
      options.onLookup?.(false);
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
      forgetSession(sessionId);
      options.redis?.publish(channel, { kind: 'session', id: sessionId });
    },
    forgetUser(userId) {
      forgetUser(userId);
      options.redis?.publish(channel, { kind: 'user', id: userId });
    },
  };
}
