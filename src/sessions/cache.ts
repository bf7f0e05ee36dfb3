import type { AccountSnapshot } from '../authz/principal.ts';
import type { Role } from '../authz/roles.ts';
import type { Scope } from '../authz/scopes.ts';
import { boundedCache, stringBytes } from '../bounded-cache.ts';
import type { Clock } from '../clock.ts';
import type { Change, ChangeFeed } from '../db/change-feed.ts';
import { watchChanges } from '../db/change-watch.ts';
import type { SharedRedis } from '../redis/shared-redis.ts';

/** A change to what the guard reads (session_changes): one session (or personal token, by its cache key), or a user. */
export type SessionChange = Change<'session' | 'user'>;
/** The feed of those changes (session_changes). */
export type SessionFeed = ChangeFeed<SessionChange['kind']>;

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
  /** Starts reading the change feed, when there is one (the app's onReady). */
  start(): void;
  /** Stops reading it, once the look under way has ended (the app's onClose). */
  stop(): Promise<void>;
  /** Resolves once a look at the change feed that began after this call has ended. */
  caughtUp(): Promise<void>;
  /** Milliseconds since the last complete look began; undefined before the first (or without a feed). */
  feedAgeMs(): number | undefined;
}

/**
 * API.md's bound: a change anywhere reaches every instance within this. An entry is trusted this
 * long after it was read, or for as long as this instance's last complete look at the change feed
 * began less than this long ago (up to FEED_ENTRY_MAX_AGE_MS).
 */
const SESSION_CACHE_MAX_AGE_MS = 1000;
/** While the feed is read, an entry is still read again at least this often. */
const FEED_ENTRY_MAX_AGE_MS = 60_000;
/** At most this many sessions kept, and about this many bytes (an entry: its ids, dates and flags, and the account's texts). */
const SESSION_CACHE_ENTRIES = 50_000;
const SESSION_CACHE_BYTES = 32 * 1024 * 1024;
const SESSION_ENTRY_BYTES = 480;

/**
 * An in-process cache in front of one indexed query, so that the common protected request makes no
 * database round trip. The instance that makes a change forgets the entries it touched at once and,
 * with Redis, tells every other instance to do the same. Every instance also reads the database's
 * change feed (change-feed.ts: rows written by triggers in the transaction of every change) four
 * times a second and forgets what it names; an entry is trusted while the last complete look began
 * less than a second ago, and otherwise for one second after it was read — so a change reaches every
 * instance within a second even when a message is lost, the feed cannot be read or Redis is down.
 * Concurrent misses for one session share one query.
 */
export function createSessionCache(options: {
  load: (sessionId: string) => Promise<SessionState | undefined>;
  clock: Clock;
  maxAgeMs?: number;
  max?: number;
  /** With Redis, every change is broadcast, and other instances forget at once instead of within 1 s. */
  redis?: SharedRedis;
  /** The database's change feed; without one, an entry is trusted for maxAgeMs after it was read. */
  feed?: SessionFeed;
  /** A look at the feed failed (entries are then trusted for maxAgeMs after they were read). */
  onFeedError?: (error: unknown) => void;
  /** Milliseconds that only go forward (performance.now), for the gap the purge could open. */
  monotonic?: () => number;
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
  const forgetAll = () => {
    generation += 1;
    entries.clear();
    pending.clear();
  };
  /** What one look names: its sessions, and its users' sessions found in one pass over the entries. */
  const forgetNamed = (changes: readonly SessionChange[]) => {
    const users = new Set<string>();
    for (const { kind, subject } of changes) {
      if (kind === 'user') users.add(subject);
      else forgetSession(subject);
    }
    if (users.size === 0) return;
    generation += 1;
    for (const [sessionId, entry] of entries.entries()) {
      if (entry.state && users.has(entry.state.userId)) entries.delete(sessionId);
    }
    pending.clear();
  };
  const forgetUser = (userId: string) => forgetNamed([{ kind: 'user', subject: userId }]);

  // The change feed (change-watch.ts: four looks a second, in turn; forget all when one cannot know what it missed).
  const watch = watchChanges({
    feed: options.feed,
    clock,
    onChanges: forgetNamed,
    onForgetAll: forgetAll,
    onError: options.onFeedError,
    monotonic: options.monotonic,
  });

  const channel = 'revocations';
  const subscribed = options.redis?.subscribe(channel, (message) => {
    if (message.kind === 'session' && typeof message.id === 'string') forgetSession(message.id);
    if (message.kind === 'user' && typeof message.id === 'string') forgetUser(message.id);
  });

  return {
    listening: subscribed ?? Promise.resolve(),
    start: watch.start,
    stop: watch.stop,
    caughtUp: watch.caughtUp,
    feedAgeMs: watch.ageMs,
    async get(sessionId) {
      const now = clock.now().getTime();
      const entry = entries.get(sessionId);
      const age = entry ? now - entry.loadedAt : -1;
      if (
        entry &&
        age >= 0 &&
        (age < maxAgeMs || (age < FEED_ENTRY_MAX_AGE_MS && watch.current(now, maxAgeMs)))
      ) {
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
