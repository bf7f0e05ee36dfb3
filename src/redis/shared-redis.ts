import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { lazyModule } from '../lazy-module.ts';

/** Loaded only when REDIS_URL is set: a single instance never pays for the client's memory. */
const ioredis = lazyModule<typeof import('ioredis')>('ioredis');

/**
 * The optional Redis that instances share: failed-login counts and revocation fan-out. inkgate never
 * waits on it: while it is unreachable, commands fail at once (no offline queue), callers fall back to
 * their per-instance behaviour, one warning is logged, and the client keeps reconnecting.
 */
export interface SharedRedis {
  /** Key and channel names start with this (REDIS_PREFIX), so deployments can share one Redis. */
  readonly prefix: string;
  /** This process, so that it can ignore its own broadcasts. */
  readonly instanceId: string;
  readonly client: Redis;
  /** True while commands can be sent. */
  available(): boolean;
  /**
   * True while every subscription is in place, so other instances' revocations reach this one at
   * once; false while one is being (re)made, when the session cache's one-second bound holds instead.
   */
  fanOutUp(): boolean;
  publish(channel: string, message: object): void;
  /**
   * Listens on `channel`; resolves once the subscription is in place. A failed subscription is logged
   * with its reason and retried (1 s, then up to every 5 s) for as long as the process lives.
   */
  subscribe(channel: string, listener: (message: Record<string, unknown>) => void): Promise<void>;
  /**
   * A caller that answered from its per-instance fallback because a Redis command failed says so
   * here: logged with the reason, at most once a minute per `what`, so a flood cannot fill the log.
   */
  fellBack(what: string, error: unknown): void;
  close(): Promise<void>;
}

export function connectRedis(url: string, prefix: string, log: FastifyBaseLogger): SharedRedis {
  const options = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    commandTimeout: 1000,
    // Keep trying, at most every 2 s, for as long as the process lives.
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
  };
  const { Redis: RedisClient } = ioredis();
  const client = new RedisClient(url, options);
  const subscriber = new RedisClient(url, {
    ...options,
    enableOfflineQueue: true,
    commandTimeout: undefined,
  });
  const instanceId = randomUUID();
  const listeners = new Map<string, Array<(message: Record<string, unknown>) => void>>();

  let healthy = false;
  let warned = false;
  let closing = false;
  client.on('ready', () => {
    if (warned) log.info('Redis is back: shared counters and revocation fan-out resume');
    healthy = true;
    warned = false;
  });
  const down = (error?: Error) => {
    healthy = false;
    if (!warned && !closing) {
      warned = true;
      log.warn(
        { err: error?.message },
        'Redis is unreachable: counting failed logins per instance, revocation reaches other instances within 1 s',
      );
    }
  };
  client.on('error', down);
  client.on('close', () => down());
  subscriber.on('error', () => {}); // its reconnects are the client's story, told once above
  // Whether the subscriber connection is up (ioredis subscribes again to every channel on ready).
  let subscriberReady = false;
  subscriber.on('ready', () => {
    subscriberReady = true;
  });
  subscriber.on('close', () => {
    subscriberReady = false;
  });
  /** Channels whose subscription failed and is being retried. */
  const retrying = new Set<string>();
  const fallbacksLoggedAt = new Map<string, number>();

  subscriber.on('message', (channel, text) => {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (message.origin === instanceId) return;
    for (const listener of listeners.get(channel) ?? []) listener(message);
  });

  return {
    prefix,
    instanceId,
    client,
    available: () => healthy && client.status === 'ready',
    fanOutUp: () => subscriberReady && retrying.size === 0 && !closing,
    fellBack(what, error) {
      const now = Date.now();
      if (closing || now - (fallbacksLoggedAt.get(what) ?? 0) < 60_000) return;
      fallbacksLoggedAt.set(what, now);
      log.warn(
        { err: error instanceof Error ? error.message : String(error), what },
        `Redis command failed: ${what} counted in this instance's memory this time`,
      );
    },
    publish(channel, message) {
      if (!healthy) return;
      client
        .publish(`${prefix}${channel}`, JSON.stringify({ ...message, origin: instanceId }))
        .catch(() => {});
    },
    async subscribe(channel, listener) {
      const name = `${prefix}${channel}`;
      const known = listeners.get(name);
      if (known) {
        known.push(listener);
        return;
      }
      listeners.set(name, [listener]);
      for (let attempt = 1; !closing; attempt += 1) {
        try {
          await subscriber.subscribe(name);
          if (retrying.delete(name)) log.info({ channel: name }, 'Redis subscription in place again');
          return;
        } catch (error) {
          retrying.add(name);
          log.warn(
            { err: error instanceof Error ? error.message : String(error), channel: name, attempt },
            'Redis subscription failed: other instances’ revocations reach this one within 1 s until it is retried',
          );
          await new Promise((resolve) => setTimeout(resolve, Math.min(attempt * 1000, 5000)).unref());
        }
      }
    },
    /**
     * QUIT after what is under way (a resubscription after a reconnect, say), so no command of
     * ioredis's own is cut off and rejected unheard; a connection that cannot say goodbye within
     * half a second is cut.
     */
    async close() {
      closing = true;
      const goodbye = (connection: typeof client) =>
        connection.status === 'ready'
          ? Promise.race([
              connection.quit().then(
                () => {},
                () => {},
              ),
              new Promise<void>((resolve) => setTimeout(resolve, 500).unref()),
            ])
          : Promise.resolve();
      await Promise.all([goodbye(client), goodbye(subscriber)]);
      client.disconnect();
      subscriber.disconnect();
    },
  };
}
