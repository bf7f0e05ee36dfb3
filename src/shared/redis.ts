import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';

/** Loaded only when REDIS_URL is set: a single instance never pays for the client's memory. */
const requireModule = createRequire(import.meta.url);

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
  publish(channel: string, message: object): void;
  subscribe(channel: string, listener: (message: Record<string, unknown>) => void): void;
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
  const { Redis: RedisClient } = requireModule('ioredis') as typeof import('ioredis');
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
    publish(channel, message) {
      if (!healthy) return;
      client
        .publish(`${prefix}${channel}`, JSON.stringify({ ...message, origin: instanceId }))
        .catch(() => {});
    },
    subscribe(channel, listener) {
      const name = `${prefix}${channel}`;
      if (!listeners.has(name)) {
        listeners.set(name, []);
        subscriber.subscribe(name).catch(() => {});
      }
      listeners.get(name)!.push(listener);
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
