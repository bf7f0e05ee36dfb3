import { createHash, randomUUID } from 'node:crypto';
import { boundedCache, stringBytes } from '../bounded-cache.ts';
import type { Clock } from '../clock.ts';
import type { SharedRedis } from '../redis/shared-redis.ts';

/**
 * Failed-login limits, each over a sliding window (API.md): per account from one address, per account
 * from all addresses, per address for all accounts. A limit holds until the oldest failure it counts
 * is one window old, and a correct password does not bypass it.
 *
 * No lockout of the owner (OWASP's device cookies, adapted to an API): an attempt from an address or
 * a browser where the owner logged in successfully lately is `trusted` and counted in its own bucket
 * only, so strangers filling the account's count from elsewhere can never refuse it. Untrusted
 * attempts meet the account limit as backoff: past the limit, each further try waits twice as long as
 * the one before (1 s, 2 s, … up to the window), rather than a wall for the whole window.
 *
 * An attempt reserves its failure before the password is checked and gives it back on success, so
 * parallel guesses cannot all slip in under the limit while the (slow) hash is being verified.
 */
export interface ThrottleLimits {
  readonly windowSeconds: number;
  readonly perAccountAndAddress: number;
  readonly perAccount: number;
  readonly perAddress: number;
}

const DEFAULT_LIMITS: ThrottleLimits = {
  windowSeconds: 15 * 60,
  perAccountAndAddress: 5,
  perAccount: 50,
  perAddress: 100,
};

type AttemptOutcome =
  | {
      readonly allowed: true;
      /** The password was right: the reserved failures go, and the narrowest count starts over. */
      succeeded(): Promise<void>;
      /** The password was never checked (the hash queue refused it): the reservation goes, no more. */
      released(): Promise<void>;
    }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

export interface LoginAttempt {
  /** The user the login names, if any (username and email share one count). */
  readonly userId: string | undefined;
  /** The login as typed: the count of a name that names no user. */
  readonly name: string;
  /** The canonical client address (http/client-address.ts). */
  readonly address: string;
  /** A remembered address or device of the account's owner: counted in this bucket only. */
  readonly trusted?: string | undefined;
}

export interface LoginThrottle {
  attempt(login: LoginAttempt): Promise<AttemptOutcome>;
  /**
   * Current-password checks of one session (POST /users/me/password): a holder of a valid access
   * token gets its own bucket, which strangers' failures never fill, and cannot guess beyond it.
   */
  attemptInSession(sessionId: string): Promise<AttemptOutcome>;
}

/** One count: at most `limit` failures per window; `backoff` lets single tries through past it. */
interface Bucket {
  readonly key: string;
  readonly limit: number;
  readonly backoff: boolean;
}

/** A login name that names no user is kept only as a hash: typed text never becomes a key name. */
const accountKey = (login: LoginAttempt) =>
  login.userId ?? `name:${createHash('sha256').update(login.name.toLowerCase()).digest('base64url')}`;

function bucketsOf(limits: ThrottleLimits, login: LoginAttempt): Bucket[] {
  const account = accountKey(login);
  if (login.trusted !== undefined) {
    return [
      { key: `trusted:${account}\u0000${login.trusted}`, limit: limits.perAccountAndAddress, backoff: false },
    ];
  }
  return [
    { key: `pair:${account}\u0000${login.address}`, limit: limits.perAccountAndAddress, backoff: false },
    { key: `account:${account}`, limit: limits.perAccount, backoff: true },
    { key: `address:${login.address}`, limit: limits.perAddress, backoff: false },
  ];
}

/** Past the limit with backoff, the wait after the newest failure: 1 s, doubling, at most the window. */
const backoffMs = (excess: number, windowMs: number) => Math.min(windowMs, 1000 * 2 ** Math.min(excess, 30));
/** Failures kept per bucket: enough to know how far past its limit (the backoff) it is. */
const KEPT_PAST_LIMIT = 24;

/** When `times` (ascending, within the window) next allows an attempt; 0 when it does now. */
function retryAt(times: readonly number[], bucket: Bucket, windowMs: number, now: number): number {
  if (times.length < bucket.limit) return 0;
  let at = times[times.length - bucket.limit]! + windowMs;
  if (bucket.backoff)
    at = Math.min(at, times[times.length - 1]! + backoffMs(times.length - bucket.limit, windowMs));
  return at > now ? at : 0;
}

const refusal = (at: number, now: number): AttemptOutcome => ({
  allowed: false,
  retryAfterSeconds: Math.max(1, Math.ceil((at - now) / 1000)),
});

/** The sliding logs behind both throttles: check every bucket, and reserve a failure in each. */
interface FailureLog {
  reserve(buckets: readonly Bucket[]): Promise<AttemptOutcome>;
}

function createThrottle(log: FailureLog, limits: ThrottleLimits): LoginThrottle {
  return {
    attempt: (login) => log.reserve(bucketsOf(limits, login)),
    attemptInSession: (sessionId) =>
      log.reserve([{ key: `session:${sessionId}`, limit: limits.perAccountAndAddress, backoff: false }]),
  };
}

function createMemoryLog(clock: Clock, limits: ThrottleLimits): FailureLog {
  const windowMs = limits.windowSeconds * 1000;
  // Bounded: an attacker spraying logins cannot grow memory without limit; entries expire with the window.
  // 200,000 keys, 32 MiB at most (a key, and eight bytes a failure's time).
  const failures = boundedCache<string, number[]>({
    entries: 200_000,
    bytes: 32 * 1024 * 1024,
    sizeOf: (times, key) => stringBytes(key) + 48 + 8 * times.length,
    ttl: windowMs,
    ttlAutopurge: false,
  });
  const recent = (key: string, now: number) =>
    (failures.get(key) ?? []).filter((time) => time > now - windowMs);

  return {
    async reserve(buckets) {
      const now = clock.now().getTime();
      const at = Math.max(
        ...buckets.map((bucket) => retryAt(recent(bucket.key, now), bucket, windowMs, now)),
      );
      if (at > 0) return refusal(at, now);
      const giveBack = (from: readonly Bucket[]) => {
        for (const bucket of from) {
          const times = failures.get(bucket.key);
          const index = times?.lastIndexOf(now) ?? -1;
          if (times && index >= 0) times.splice(index, 1);
        }
      };
      for (const bucket of buckets) {
        const times = recent(bucket.key, now);
        times.push(now);
        failures.set(bucket.key, times.slice(-(bucket.limit + KEPT_PAST_LIMIT)));
      }
      return {
        allowed: true,
        async succeeded() {
          // A success gives back the reserved failures; the first (narrowest) count starts over.
          failures.delete(buckets[0]!.key);
          giveBack(buckets.slice(1));
        },
        async released() {
          giveBack(buckets);
        },
      };
    },
  };
}

export function createMemoryLoginThrottle(
  clock: Clock,
  limits: ThrottleLimits = DEFAULT_LIMITS,
): LoginThrottle {
  return createThrottle(createMemoryLog(clock, limits), limits);
}

/**
 * The same logs shared by every instance through Redis: a sorted set of failure times per bucket,
 * checked and reserved in one Lua script (atomic across instances). ARGV: now, window, member, then
 * a limit and a backoff flag per key.
 */
const RESERVE_SCRIPT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local retryAt = 0
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    local at = tonumber(redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')[2]) + window
    if ARGV[3 + 2 * i] == '1' then
      local newest = tonumber(redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')[2])
      local wait = math.min(window, 1000 * 2 ^ math.min(count - limit, 30))
      if newest + wait < at then at = newest + wait end
    end
    if at > now and at > retryAt then retryAt = at end
  end
end
if retryAt > 0 then return retryAt end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[3])
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(tonumber(ARGV[2 + 2 * i]) + ${KEPT_PAST_LIMIT} + 1))
  redis.call('PEXPIRE', KEYS[i], window)
end
return 0
`;

function createRedisLog(redis: SharedRedis, clock: Clock, limits: ThrottleLimits): FailureLog {
  const fallback = createMemoryLog(clock, limits);
  const windowMs = limits.windowSeconds * 1000;
  return {
    async reserve(buckets) {
      if (!redis.available()) return fallback.reserve(buckets);
      const now = clock.now().getTime();
      const keys = buckets.map((bucket) => `${redis.prefix}login-failures:${bucket.key}`);
      const member = `${now}:${randomUUID()}`;
      let at: number;
      try {
        const limitArgs = buckets.flatMap((bucket) => [bucket.limit, bucket.backoff ? '1' : '0']);
        at = Number(
          await redis.client.eval(RESERVE_SCRIPT, keys.length, ...keys, now, windowMs, member, ...limitArgs),
        );
      } catch (error) {
        redis.fellBack('failed logins', error);
        return fallback.reserve(buckets);
      }
      if (at > 0) return refusal(at, now);
      return {
        allowed: true,
        async succeeded() {
          const undo = redis.client.multi().del(keys[0]!);
          for (const key of keys.slice(1)) undo.zrem(key, member);
          await undo.exec().catch(() => undefined);
        },
        async released() {
          const undo = redis.client.multi();
          for (const key of keys) undo.zrem(key, member);
          await undo.exec().catch(() => undefined);
        },
      };
    },
  };
}

export function createRedisLoginThrottle(
  redis: SharedRedis,
  clock: Clock,
  limits: ThrottleLimits = DEFAULT_LIMITS,
): LoginThrottle {
  return createThrottle(createRedisLog(redis, clock, limits), limits);
}
