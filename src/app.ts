import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { createHasher, createHashQueue, type HashQueue } from './accounts/hash-queue.ts';
import { createUsersRepository } from './accounts/repository.ts';
import { accountsRoutes } from './accounts/routes.ts';
import { Accepted, UserPublic } from './accounts/schemas.ts';
import { createAccountsService } from './accounts/service.ts';
import { createAuditRepository } from './audit/repository.ts';
import { auditRoutes } from './audit/routes.ts';
import { AuditEventPublic } from './audit/schemas.ts';
import { createAuditService } from './audit/service.ts';
import { type AuditTrail, createAuditTrail } from './audit/trail.ts';
import { principalOf } from './authz/principal.ts';
import { type Clock, systemClock } from './clock.ts';
import type { Config } from './config.ts';
import type { OpenDatabase } from './db/database.ts';
import { canonicalAddress } from './http/client-address.ts';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandlers } from './http/error-handler.ts';
import { HttpError } from './http/errors.ts';
import { loggableUrl, requestLineLogger } from './http/logging.ts';
import { metaRoutes } from './http/meta-routes.ts';
import { createMetrics, instrumentRequests } from './http/metrics.ts';
import { registerOpenApi } from './http/openapi.ts';
import { PROBLEM_CONTENT_TYPE, Problem, toProblem } from './http/problem.ts';
import { createWindowCounter, limitRoute } from './http/rate-limits.ts';
import { securityHeaders } from './http/security-headers.ts';
import { createValidatorCompiler } from './http/validation.ts';
import { jwksRoutes } from './keys/jwks-routes.ts';
import { createKeyCipher } from './keys/key-encryption.ts';
import type { KeyRing } from './keys/key-ring.ts';
import { createServerSecrets } from './keys/server-secrets.ts';
import { createDevices } from './login/devices.ts';
import { createLoginService } from './login/service.ts';
import { createMemoryLoginThrottle, createRedisLoginThrottle, type LoginThrottle } from './login/throttle.ts';
import { createOutbox } from './mail/outbox.ts';
import { directoryTransport, type MailTransport, smtpTransport } from './mail/transport.ts';
import { OAuthErrorBody } from './oauth/errors.ts';
import { createTokenEndpoint } from './oauth/grants.ts';
import { metadataRoutes } from './oauth/metadata-routes.ts';
import { tokenRoutes } from './oauth/token-routes.ts';
import { createPostsRepository } from './posts/repository.ts';
import { postsRoutes } from './posts/routes.ts';
import { PostPublic } from './posts/schemas.ts';
import { createPostsService } from './posts/service.ts';
import { recoveryRoutes } from './recovery/routes.ts';
import { createRecoveryService } from './recovery/service.ts';
import { createAccountTokens } from './recovery/tokens.ts';
import type { SharedRedis } from './redis/shared-redis.ts';
import { createAccessTokens } from './sessions/access-tokens.ts';
import { createSessionCache, type SessionCache } from './sessions/cache.ts';
import { createGuard } from './sessions/guard.ts';
import { createSessionsRepository } from './sessions/repository.ts';
import { SessionPublic, sessionRoutes } from './sessions/routes.ts';
import { createSessionsService } from './sessions/service.ts';

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
  }
}

export const BODY_LIMIT = 64 * 1024;
const HEADERS_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_MS = 72_000;

/** The whole HTTP application, wired from its dependencies. No I/O and no process.env here: main.ts owns those. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, database, keys } = deps;
  const clock = deps.clock ?? systemClock;
  // The security headers of every answer, the framework's own refusals included.
  const headers = securityHeaders({ crossOrigin: config.corsOrigins.length > 0 });

  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT,
    // Slow clients cannot hold sockets (API.md "Abuse limits"): the whole request within
    // REQUEST_TIMEOUT, the headers within 10 s, idle keep-alive sockets closed after 72 s; Node
    // checks pending requests every second instead of every 30.
    requestTimeout: config.requestTimeoutSeconds * 1000,
    keepAliveTimeout: KEEP_ALIVE_MS,
    http: {
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, config.requestTimeoutSeconds * 1000),
      requestTimeout: config.requestTimeoutSeconds * 1000,
      connectionsCheckingInterval: 1000,
    },
    clientErrorHandler: clientErrorHandler(headers),
    frameworkErrors: frameworkErrorHandler(headers),
    trustProxy: config.trustProxy === false ? false : config.trustProxy,
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: () => randomUUID(),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Answered by the onRequest hook below instead, as a problem document with the usual headers.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(createValidatorCompiler());
  // JSON only (API.md): Fastify's default text/plain parser would let a text body reach validation.
  app.removeContentTypeParser('text/plain');
  // RFC 8259 §8.1: JSON text is UTF-8. Fastify's parser decodes bytes that are not UTF-8 as U+FFFD
  // and goes on; this one refuses them with 400, then parses as Fastify does (proto poisoning refused).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new HttpError(400, 'invalid_utf8', 'the body is not valid UTF-8 (RFC 8259 §8.1)'), undefined);
      return;
    }
    parseJson(request, text, done);
  });
  registerErrorHandlers(app);

  // The app-wide hooks run on every request, so they take Fastify's callback form (no promise each).
  // Every answer: the security headers and its id (also returned as X-Request-Id for support).
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers).header('x-request-id', request.id);
    // While the server drains (SIGTERM), new requests are told to go elsewhere, and the connection closes.
    if (closing) {
      void reply
        .code(503)
        .header('connection', 'close')
        .header('retry-after', '5')
        .type(PROBLEM_CONTENT_TYPE)
        .send(toProblem(503, 'shutting_down', 'the server is shutting down; try again'));
      return;
    }
    done();
  });
  // An answer to a request that carried credentials is private, whatever the route: no shared or
  // browser cache may keep it (API.md conventions). Set last, so no route can loosen it.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.headers.authorization !== undefined) reply.header('cache-control', 'no-store');
    done(null, payload);
  });
  // One log line per request, with its id.
  const requestLines = deps.logger ? requestLineLogger(deps.logger as Logger) : undefined;
  app.addHook('onResponse', (request, reply, done) => {
    requestLines?.info(
      {
        reqId: request.id,
        method: request.method,
        url: loggableUrl(request.url),
        route: request.routeOptions.url,
        statusCode: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
        ip: request.ip,
        userId: request.principal?.userId,
      },
      'request',
    );
    done();
  });

  const metrics = config.metrics ? createMetrics() : undefined;
  if (metrics) instrumentRequests(app, metrics);

  await app.register(cors, {
    // Closed unless CORS_ORIGINS lists origins; credentials are bearer tokens, never cookies.
    origin: config.corsOrigins.length > 0 ? [...config.corsOrigins] : false,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type'],
    exposedHeaders: [
      'location',
      'ratelimit',
      'ratelimit-policy',
      'retry-after',
      'www-authenticate',
      'x-request-id',
    ],
    maxAge: 600,
  });

  await registerOpenApi(app, { version: deps.version ?? '0.0.0', clientId: config.clientId });
  // Shared schemas are added here, at the root: a plugin that adds one gets a scope with Fastify's
  // default validator (which drops unknown fields instead of refusing them with 422).
  for (const schema of [
    Problem,
    OAuthErrorBody,
    UserPublic,
    Accepted,
    PostPublic,
    SessionPublic,
    AuditEventPublic,
  ])
    app.addSchema(schema);

  const audit = deps.audit ?? createAuditTrail({ db: database.db, clock, log: deps.logger });
  // Events waiting to be stored (failed logins) are stored before the database closes.
  app.addHook('onClose', async () => audit.close());
  const users = createUsersRepository(database.db);
  const hashQueue =
    deps.hashQueue ??
    createHashQueue({
      concurrency: config.hashConcurrency,
      maxWaiting: config.hashQueue,
      share: config.hashShare,
      onWait: metrics && ((seconds) => metrics.hashWaitSeconds.observe(seconds)),
    });
  if (metrics) metrics.hashQueueState = () => ({ running: hashQueue.running, waiting: hashQueue.waiting });
  const lookups = (cache: 'token' | 'session') => {
    if (!metrics) return undefined;
    const counts = metrics.cacheLookups[cache];
    return (hit: boolean) => {
      if (hit) counts.hit += 1;
      else counts.miss += 1;
    };
  };
  const hasher = createHasher(hashQueue);
  const tokens = createAccessTokens({
    keys,
    clock,
    issuer: config.issuer,
    audience: config.audience,
    clientId: config.clientId,
    ttlSeconds: config.accessTokenTtlSeconds,
    onLookup: lookups('token'),
  });
  // The cache and the sessions service know each other: the service drops entries it changes, the
  // cache loads through the service (only ever during a request, after both exist).
  const sessionCache =
    deps.sessionCache ??
    createSessionCache({
      load: (sid) => sessions.state(sid),
      clock,
      redis: deps.redis,
      onLookup: lookups('session'),
    });
  const secrets = createServerSecrets(database.db, createKeyCipher(config.keyEncryptionKey), clock);
  const sessions = createSessionsService({
    repository: createSessionsRepository(database.db),
    successorKey: () => secrets.key('refresh_token_successor_key'),
    tokens,
    cache: sessionCache,
    clock,
    audit,
    metrics,
    refreshTtlSeconds: config.refreshTokenTtlSeconds,
    firstPartyClientId: config.clientId,
    idleSeconds: config.sessionIdleSeconds,
    verificationRequired: config.emailVerification === 'required',
  });
  const { requireAuth } = createGuard({
    tokens,
    sessions: sessionCache,
    clock,
    verificationRequired: config.emailVerification === 'required',
  });
  const throttle =
    deps.throttle ??
    (deps.redis ? createRedisLoginThrottle(deps.redis, clock) : createMemoryLoginThrottle(clock));
  const counter = createWindowCounter(deps.redis, clock);
  const cipher = createKeyCipher(config.keyEncryptionKey);
  const outbox = createOutbox({
    db: database.db,
    clock,
    cipher,
    transport:
      deps.mailTransport ??
      (config.smtpUrl ? smtpTransport(config.smtpUrl) : directoryTransport(config.mailDir)),
    from: config.mailFrom,
    log: deps.logger,
    pollMs: deps.mailPollMs,
  });
  const recovery = createRecoveryService({
    users,
    tokens: createAccountTokens(database.db),
    outbox,
    audit,
    clock,
    hash: hasher.hash,
    sessions,
    counter,
    appUrl: config.appUrl,
    resetTtlSeconds: config.passwordResetTtlSeconds,
    verificationTtlSeconds: config.emailVerificationTtlSeconds,
    mailPerHour: config.rateLimitMail,
    log: deps.logger,
  });
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
  const accounts = createAccountsService({
    users,
    clock,
    audit,
    hash: hasher.hash,
    verify: hasher.verify,
    sessions,
    passwordAttempts: throttle,
    mail: recovery.mail,
    verificationRequired: config.emailVerification === 'required',
  });
  const posts = createPostsService({ posts: createPostsRepository(database.db, database.engine), clock });
  const devices = createDevices({
    db: database.db,
    clock,
    key: () => secrets.key('device_cookie_key'),
  });
  const login = createLoginService({
    users,
    throttle,
    devices,
    hasher,
    audit,
    clock,
    metrics,
    counter,
    loginsPerHour: config.rateLimitLogins,
  });

  const fanOutUp = deps.redis ? () => deps.redis?.fanOutUp() ?? false : undefined;
  if (metrics) metrics.fanOutUp = fanOutUp;
  await app.register(metaRoutes, { database, metrics, metricsToken: config.metricsToken, fanOutUp });
  // Ready once other instances' revocations reach this one — or after 2 s without Redis answering,
  // since serving with the one-second bound beats not serving (API.md "Outages").
  app.addHook('onReady', async () => {
    await Promise.race([
      sessionCache.listening,
      new Promise<void>((resolve) => setTimeout(resolve, 2000).unref()),
    ]);
  });
  await app.register(tokenRoutes, {
    endpoint: createTokenEndpoint({ login, sessions, audit, metrics }),
    sessions,
  });
  await app.register(metadataRoutes, { issuer: config.issuer });
  await app.register(jwksRoutes, { keys });
  const refused = metrics && ((policy: string) => metrics.rateLimited.inc({ policy }));
  const signupLimit = limitRoute(
    counter,
    {
      name: 'signup',
      max: config.rateLimitSignup,
      windowSeconds: 3600,
      key: (request) => canonicalAddress(request.ip),
    },
    refused,
  );
  const writeLimit = limitRoute(
    counter,
    {
      name: 'writes',
      max: config.rateLimitWrites,
      windowSeconds: 60,
      key: (request) => principalOf(request).userId,
    },
    refused,
  );
  // Mail requests per address: four times what one mailbox may receive (RATE_LIMIT_MAIL per hour).
  const mailPolicy = {
    name: 'mail',
    max: config.rateLimitMail * 4,
    windowSeconds: 3600,
    key: (request: FastifyRequest) => canonicalAddress(request.ip),
  };
  const mailLimit = limitRoute(counter, mailPolicy, refused);
  // An email change sends mail, and its answer (409 for a taken address) is a probe: it counts in the
  // same window (API.md "Abuse limits").
  const emailChangeLimit = limitRoute(
    counter,
    {
      ...mailPolicy,
      applies: (request) => (request.body as { email?: unknown } | undefined)?.email !== undefined,
    },
    refused,
  );
  await app.register(accountsRoutes, { accounts, requireAuth, signupLimit, emailChangeLimit });
  await app.register(recoveryRoutes, { recovery, requireAuth, mailLimit });
  await app.register(sessionRoutes, { sessions, requireAuth });
  await app.register(auditRoutes, {
    audit: createAuditService({ repository: createAuditRepository(database.db), trail: audit }),
    requireAuth,
  });
  await app.register(postsRoutes, { posts, requireAuth, writeLimit });

  return app;
}
