import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { HashQueue } from './accounts/hash-queue.ts';
import type { AuditTrail } from './audit/trail.ts';
import { type Clock, systemClock } from './clock.ts';
import type { Config } from './config.ts';
import type { OpenDatabase } from './db/database.ts';
import { createMetrics } from './http/metrics.ts';
import { registerOpenApi } from './http/openapi.ts';
import { createHttpServer } from './http/server.ts';
import type { KeyRing } from './keys/key-ring.ts';
import type { LoginThrottle } from './login/throttle.ts';
import type { MailTransport } from './mail/transport.ts';
import type { ContentFeed } from './posts/service.ts';
import type { SharedRedis } from './redis/shared-redis.ts';
import { registerRoutes } from './routes.ts';
import { createServices } from './services.ts';
import type { SessionCache, SessionFeed } from './sessions/cache.ts';

export interface AppDeps {
  readonly config: Config;
  readonly database: OpenDatabase;
  readonly keys: KeyRing;
  readonly clock?: Clock;
  /** A pino logger; none means silent. */
  readonly logger?: FastifyBaseLogger;
  readonly throttle?: LoginThrottle;
  /** Shared Redis (REDIS_URL): failed-login counts and revocation fan-out across instances. */
  readonly redis?: SharedRedis;
  /** Tests inspect or swap the session cache; by default each app has its own. */
  readonly sessionCache?: SessionCache;
  /** Tests make the session change feed fail; by default the database's (db/change-feed.ts). */
  readonly sessionFeed?: SessionFeed;
  /** Tests make the content change feed fail; by default the database's. */
  readonly contentFeed?: ContentFeed;
  /** Tests bound or watch the password-hash queue; by default each app has its own (HASH_*). */
  readonly hashQueue?: HashQueue;
  /** The audit trail main.ts shares with start-up work (first admin, keys); by default the app's own. */
  readonly audit?: AuditTrail;
  /** Where mail goes; by default SMTP_URL's server, or .eml files in MAIL_DIR without it. */
  readonly mailTransport?: MailTransport;
  /** How often the mail worker looks for due messages (retries, other instances'); 5 s by default. */
  readonly mailPollMs?: number;
  readonly version?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The mail work already asked for has run (see buildApp). */
    mailSettled(): Promise<void>;
    /** Every session change committed before the call has reached this instance's cache. */
    sessionsCaughtUp(): Promise<void>;
    /** Every content change committed before the call has reached this instance's public caches. */
    contentCaughtUp(): Promise<void>;
  }
}

/** How long a start waits for the revocation fan-out before serving with the one-second bound. */
const FAN_OUT_WAIT_MS = 2000;

/**
 * The whole HTTP application: the server (http/server.ts), the services (services.ts), their
 * lifecycle, and the routes (routes.ts). No I/O and no process.env here: main.ts owns those.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, database, keys, redis } = deps;
  const metrics = config.metrics ? createMetrics() : undefined;
  const app = await createHttpServer({ config, logger: deps.logger, metrics });
  await registerOpenApi(app, {
    version: deps.version ?? '0.0.0',
    clientId: config.clientId,
    passwordGrant: config.passwordGrant,
    realworld: config.realworldApi,
  });

  const services = createServices({
    config,
    database,
    keys,
    clock: deps.clock ?? systemClock,
    logger: deps.logger,
    metrics,
    redis,
    audit: deps.audit,
    throttle: deps.throttle,
    sessionCache: deps.sessionCache,
    sessionFeed: deps.sessionFeed,
    contentFeed: deps.contentFeed,
    hashQueue: deps.hashQueue,
    mailTransport: deps.mailTransport,
    mailPollMs: deps.mailPollMs,
  });
  const { audit, outbox, recovery, sessionCache, posts } = services;

  // Events waiting to be stored (failed logins) are stored before the database closes.
  app.addHook('onClose', async () => audit.close());
  // The worker delivers what the outbox holds (and what another instance left); it stops with the app,
  // after the work still running behind answers.
  app.addHook('onReady', async () => outbox.start());
  app.addHook('onClose', async () => {
    await recovery.drain();
    await outbox.stop();
  });
  // Resolves once the mail work already asked for has run: what requests started after their answer
  // (a reset looked up), then a delivery of every message due. Tests await it instead of sleeping.
  app.decorate('mailSettled', async () => {
    await recovery.drain();
    await outbox.deliverDue();
  });
  // The change feeds are read from the start to the close (before the database closes).
  app.addHook('onReady', async () => {
    sessionCache.start();
    posts.start();
  });
  app.addHook('onClose', async () => {
    await Promise.all([sessionCache.stop(), posts.stop()]);
  });
  // Resolve once this instance has read every change committed before the call (tests await them).
  app.decorate('sessionsCaughtUp', () => sessionCache.caughtUp());
  app.decorate('contentCaughtUp', () => posts.caughtUp());
  // Ready once other instances' revocations reach this one — or after 2 s without Redis answering,
  // since serving with the one-second bound beats not serving (API.md "Outages").
  app.addHook('onReady', async () => {
    await Promise.race([
      sessionCache.listening,
      new Promise<void>((resolve) => setTimeout(resolve, FAN_OUT_WAIT_MS).unref()),
    ]);
  });

  const fanOutUp = redis ? () => redis.fanOutUp() : undefined;
  if (metrics) metrics.fanOutUp = fanOutUp;
  await registerRoutes(app, { config, database, keys, metrics, fanOutUp }, services);
  return app;
}
