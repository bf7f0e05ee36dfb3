import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { boundedCache, stringBytes } from '../bounded-cache.ts';
import type { Clock } from '../clock.ts';
import type { SharedRedis } from '../redis/shared-redis.ts';
import { HttpError } from './errors.ts';

/**
 * Per-route limits (API.md "Abuse limits"), fixed windows. With Redis the counts are shared by every
 * instance; while Redis is unreachable each instance counts on its own (as the login throttle does)
 * instead of letting everything through. A limited route's answers carry `RateLimit-Policy` and
 * `RateLimit` (draft-ietf-httpapi-ratelimit-headers); a refusal is a 429 problem document with
 * `Retry-After` too.
 */
export interface RouteLimit {
  /** The policy's name in the headers: `"signup";q=10;w=3600`. */
  readonly name: string;
  readonly max: number;
  readonly windowSeconds: number;
  /** Whose count a request adds to: the canonical address, the user, … */
  readonly key: (request: FastifyRequest) => string;
  /** Only requests for which this is true count (an email change among profile changes); all by default. */
  readonly applies?: (request: FastifyRequest) => boolean;
}

type Counter = { current: number; ttl: number };

/** A fixed window: count, start the window's expiry on the first request, answer the count and what is left. */
const INCREMENT_SCRIPT = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return { current, redis.call('PTTL', KEYS[1]) }
`;

/** The count so far and what is left of the window, without counting. */
const PEEK_SCRIPT = `
return { tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1]) }
`;

/** Fixed-window counts: in Redis while it answers, in this instance's memory otherwise. */
export interface WindowCounter {
  /** Adds one to `key`'s window; answers the count so far and the milliseconds the window has left. */
  increment(key: string, windowMs: number): Promise<Counter>;
  /** The count so far in `key`'s window (0 when none is open), without adding to it. */
  peek(key: string): Promise<Counter>;
}

/** `clock` times the per-instance windows (Redis keeps its own time for the shared ones). */
export function createWindowCounter(redis: SharedRedis | undefined, clock: Clock): WindowCounter {
  // 100,000 windows (a key and two numbers each), 16 MiB at most.
  const local = boundedCache<string, { current: number; resetAt: number }>({
    entries: 100_000,
    bytes: 16 * 1024 * 1024,
    sizeOf: (_, key) => stringBytes(key) + 64,
  });
  const countLocally = (key: string, windowMs: number): Counter => {
    const now = clock.now().getTime();
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
        redis.fellBack('route limits', new Error(`unexpected reply: ${JSON.stringify(reply)}`));
      } catch (error) {
        redis.fellBack('route limits', error);
      }
      return countLocally(key, windowMs);
    },
    peek: async (key) => {
      const peekLocally = (): Counter => {
        const entry = local.get(key);
        const now = clock.now().getTime();
        return entry && entry.resetAt > now
          ? { current: entry.current, ttl: entry.resetAt - now }
          : { current: 0, ttl: 0 };
      };
      if (!redis?.available()) return peekLocally();
      try {
        const reply = await redis.client.eval(PEEK_SCRIPT, 1, `${redis.prefix}rate-limit:${key}`);
        const [current, ttl] = (reply as [number, number] | null) ?? [Number.NaN, Number.NaN];
        if (Number.isFinite(current) && Number.isFinite(ttl)) return { current, ttl: Math.max(ttl, 0) };
        redis.fellBack('route limits', new Error(`unexpected reply: ${JSON.stringify(reply)}`));
      } catch (error) {
        redis.fellBack('route limits', error);
      }
      return peekLocally();
    },
  };
}

const POLICIES = new WeakMap<object, RouteLimit>();

/** The limit a route enforces, read from its preHandler hooks (the OpenAPI document names it). */
export function limitOf(preHandler: unknown): RouteLimit | undefined {
  const hooks = Array.isArray(preHandler) ? preHandler : [preHandler];
  for (const hook of hooks) {
    const limit = typeof hook === 'function' ? POLICIES.get(hook) : undefined;
    if (limit) return limit;
  }
  return undefined;
}

/**
 * A preHandler enforcing `limit` (after the guard, where the key is the caller). Every answer of the
 * route names its policy and what is left of the caller's window (`RateLimit: "writes";r=59;t=42`),
 * so a client can slow down before it is refused.
 */
export function limitRoute(
  counter: WindowCounter,
  limit: RouteLimit,
  onRefused?: (policy: string) => void,
): preHandlerAsyncHookHandler {
  const policy = `"${limit.name}";q=${limit.max};w=${limit.windowSeconds}`;
  const windowMs = limit.windowSeconds * 1000;
  const limited: preHandlerAsyncHookHandler = async (request, reply) => {
    if (limit.applies && !limit.applies(request)) return;
    const { current, ttl } = await counter.increment(`${limit.name}:${limit.key(request)}`, windowMs);
    const seconds = Math.max(1, Math.ceil(ttl / 1000));
    const remaining = Math.max(0, limit.max - current);
    reply.header('ratelimit-policy', policy);
    reply.header('ratelimit', `"${limit.name}";r=${remaining};t=${seconds}`);
    if (current <= limit.max) return;
    onRefused?.(limit.name);
    throw new HttpError(429, 'rate_limited', `too many requests; try again in ${seconds} s`, {
      headers: { 'retry-after': String(seconds) },
    });
  };
  POLICIES.set(limited, limit);
  return limited;
}
