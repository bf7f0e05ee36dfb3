import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.ts';
import type { SharedRedis } from '../shared/redis.ts';

/**
 * Failed-login limits, each over a sliding window (API.md): per account from one address, per account
 * from all addresses, per address for all accounts. A limit holds until the oldest failure it counts
 * is one window old, and a correct password does not bypass it.
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

export const DEFAULT_LIMITS: ThrottleLimits = {
  windowSeconds: 15 * 60,
  perAccountAndAddress: 5,
  perAccount: 50,
  perAddress: 100,
};

export type AttemptOutcome =
  | { readonly allowed: true; succeeded(): Promise<void> }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

export interface LoginThrottle {
  /** `account` is the user id when the login names a user, else the login text lower-cased. */
  attempt(account: string, address: string): Promise<AttemptOutcome>;
}

const bucketsOf = (limits: ThrottleLimits, account: string, address: string): Array<[string, number]> => [
  [`pair:${account}\u0000${address}`, limits.perAccountAndAddress],
  [`account:${account}`, limits.perAccount],
  [`address:${address}`, limits.perAddress],
];

export function createMemoryLoginThrottle(
  clock: Clock,
  limits: ThrottleLimits = DEFAULT_LIMITS,
): LoginThrottle {
  const windowMs = limits.windowSeconds * 1000;
  // Bounded: an attacker spraying logins cannot grow memory without limit; entries expire with the window.
  const failures = new LRUCache<string, number[]>({ max: 200_000, ttl: windowMs, ttlAutopurge: false });

  const recent = (key: string, now: number): number[] => {
    const times = (failures.get(key) ?? []).filter((time) => time > now - windowMs);
    return times;
  };

  return {
    async attempt(account, address) {
      const now = clock.now().getTime();
      const buckets = bucketsOf(limits, account, address);
      let retryAt = 0;
      for (const [key, limit] of buckets) {
        const times = recent(key, now);
        if (times.length >= limit) retryAt = Math.max(retryAt, times[times.length - limit]! + windowMs);
      }
      if (retryAt > 0)
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((retryAt - now) / 1000)) };

      for (const [key, limit] of buckets) {
        const times = recent(key, now);
        times.push(now);
        failures.set(key, times.slice(-limit));
      }
      return {
        allowed: true,
        async succeeded() {
          // A success gives back the reserved failures; the account-and-address count starts over.
          failures.delete(buckets[0]![0]);
          for (const [key] of buckets.slice(1)) {
            const times = failures.get(key);
            const index = times?.lastIndexOf(now) ?? -1;
            if (times && index >= 0) times.splice(index, 1);
          }
        },
      };
    },
  };
}

/**
 * The same limits shared by every instance through Redis: a sorted set of failure times per bucket,
 * checked and reserved in one Lua script (atomic across instances). While Redis is unreachable, the
 * per-instance counts stand in.
 */
const ATTEMPT_SCRIPT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local retryAt = 0
for i = 1, 3 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local limit = tonumber(ARGV[2 + i])
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    local at = tonumber(oldest[2]) + window
    if at > retryAt then retryAt = at end
  end
end
if retryAt > 0 then return retryAt end
for i = 1, 3 do
  redis.call('ZADD', KEYS[i], now, ARGV[6])
  redis.call('PEXPIRE', KEYS[i], window)
end
return 0
`;

export function createRedisLoginThrottle(
  redis: SharedRedis,
  clock: Clock,
  limits: ThrottleLimits = DEFAULT_LIMITS,
): LoginThrottle {
  const fallback = createMemoryLoginThrottle(clock, limits);
  const windowMs = limits.windowSeconds * 1000;
  return {
    async attempt(account, address) {
      if (!redis.available()) return fallback.attempt(account, address);
      const now = clock.now().getTime();
      const keys = bucketsOf(limits, account, address).map(([key]) => `${redis.prefix}login-failures:${key}`);
      const member = `${now}:${randomUUID()}`;
      let retryAt: number;
      try {
        retryAt = Number(
          await redis.client.eval(
            ATTEMPT_SCRIPT,
            3,
            ...keys,
            now,
            windowMs,
            limits.perAccountAndAddress,
            limits.perAccount,
            limits.perAddress,
            member,
          ),
        );
      } catch {
        return fallback.attempt(account, address);
      }
      if (retryAt > 0)
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((retryAt - now) / 1000)) };
      return {
        allowed: true,
        async succeeded() {
          await redis.client
            .multi()
            .del(keys[0]!)
            .zrem(keys[1]!, member)
            .zrem(keys[2]!, member)
            .exec()
            .catch(() => undefined);
        },
      };
    },
  };
}
