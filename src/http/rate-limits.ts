import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { SharedRedis } from '../shared/redis.ts';
import { HttpError } from './errors.ts';

/**
 * Per-route limits (API.md "Abuse limits") through @fastify/rate-limit, fixed windows. With Redis the
 * counts are shared by every instance; while Redis is unreachable each instance counts on its own
 * (as the login throttle does) instead of letting everything through. A limited route's answers
 * name their policy in `RateLimit-Policy`; a refusal is a 429 problem document with `Retry-After`
 * and `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
 */
export interface RouteLimit {
  /** The policy's name in the headers: `"signup";q=10;w=3600`. */
  readonly name: string;
  readonly max: number;
  readonly windowSeconds: number;
  /** Whose count a request adds to: the canonical address, the user, … */
  readonly key: (request: FastifyRequest) => string;
}

type Counter = { current: number; ttl: number };

/** A fixed window: count, start the window's expiry on the first request, answer the count and what is left. */
const INCREMENT_SCRIPT = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return { current, redis.call('PTTL', KEYS[1]) }
`;
type Callback = (error: Error | null, result?: Counter) => void;

/** Fixed-window counts: in Redis while it answers, in this instance's memory otherwise. */
export interface WindowCounter {
  /** Adds one to `key`'s window; answers the count so far and the milliseconds the window has left. */
  increment(key: string, windowMs: number): Promise<Counter>;
}

export function createWindowCounter(redis: SharedRedis | undefined): WindowCounter {
  const local = new LRUCache<string, { current: number; resetAt: number }>({ max: 100_000 });
  const countLocally = (key: string, windowMs: number): Counter => {
    const now = Date.now();
    let entry = local.get(key);
    if (!entry || entry.resetAt <= now) entry = { current: 0, resetAt: now + windowMs };
    entry.current += 1;
    local.set(key, entry);
    return { current: entry.current, ttl: entry.resetAt - now };
  };
  return {
    increment: async (key, windowMs) => {
      if (!redis?.available()) return countLocally(key, windowMs);
      // One command (a script), so a connection lost half-way leaves no stray promise behind.
      try {
        const reply = await redis.client.eval(
          INCREMENT_SCRIPT,
          1,
          `${redis.prefix}rate-limit:${key}`,
          windowMs,
        );
        const [current, ttl] = (reply as [number, number] | null) ?? [Number.NaN, Number.NaN];
        if (Number.isFinite(current) && Number.isFinite(ttl)) return { current, ttl: Math.max(ttl, 0) };
      } catch {
        // counted locally below
      }
      return countLocally(key, windowMs);
    },
  };
}

/** The store @fastify/rate-limit instantiates, over one WindowCounter. */
function sharedStore(counter: WindowCounter) {
  return class SharedStore {
    incr(key: string, callback: Callback, windowMs: number): void {
      counter.increment(key, windowMs).then(
        (result) => callback(null, result),
        (error: Error) => callback(error),
      );
    }
    /** One store for every limit: each key starts with its policy's name. */
    child() {
      return this;
    }
  };
}

export async function registerRateLimits(app: FastifyInstance, counter: WindowCounter): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    store: sharedStore(counter),
    // The plugin's x-ratelimit-* headers are replaced by the IETF ones this module sets.
    addHeaders: {
      'x-ratelimit-limit': false,
      'x-ratelimit-remaining': false,
      'x-ratelimit-reset': false,
      'retry-after': false,
    },
    addHeadersOnExceeding: {
      'x-ratelimit-limit': false,
      'x-ratelimit-remaining': false,
      'x-ratelimit-reset': false,
    },
  });
}

/** A preHandler enforcing `limit` (after the guard, where the key is the caller). */
export function limitRoute(
  app: FastifyInstance,
  limit: RouteLimit,
  onRefused?: (policy: string) => void,
): preHandlerAsyncHookHandler {
  const policy = `"${limit.name}";q=${limit.max};w=${limit.windowSeconds}`;
  const enforce = app.rateLimit({
    max: limit.max,
    timeWindow: limit.windowSeconds * 1000,
    keyGenerator: (request) => `${limit.name}:${limit.key(request)}`,
    errorResponseBuilder: (_request, context) => {
      onRefused?.(limit.name);
      const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
      return new HttpError(429, 'rate_limited', `too many requests; try again in ${seconds} s`, {
        headers: {
          'retry-after': String(seconds),
          'ratelimit-policy': policy,
          ratelimit: `"${limit.name}";r=0;t=${seconds}`,
        },
      });
    },
  });
  return async function limited(request, reply) {
    reply.header('ratelimit-policy', policy);
    await enforce.call(this, request, reply);
  };
}
