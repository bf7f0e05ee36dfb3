import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { createDeferredSchemas } from './deferred-schemas.ts';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandlers } from './error-handler.ts';
import { HttpError } from './errors.ts';
import { lazyRequestLogger, loggableUrl, requestLineWriter } from './logging.ts';
import { instrumentRequests, type Metrics } from './metrics.ts';
import { PROBLEM_CONTENT_TYPE, toProblem } from './problem.ts';
import { securityHeaders } from './security-headers.ts';
import { createValidatorCompiler } from './validation.ts';

/**
 * The one JSON body parser (RFC 8259 §8.1: JSON text is UTF-8): Fastify's decodes bytes that are not
 * UTF-8 as U+FFFD and goes on; this refuses them with 400, then parses as Fastify does (prototype
 * poisoning refused). With `emptyIsNone` (the RealWorld API's clients send body-less JSON DELETEs),
 * an empty body is no body instead of a 400.
 */
export function useJsonParser(app: FastifyInstance, options: { emptyIsNone?: boolean } = {}): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if (options.emptyIsNone === true && (body as Buffer).length === 0) return done(null, undefined);
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new HttpError(400, 'invalid_utf8', 'the body is not valid UTF-8 (RFC 8259 §8.1)'), undefined);
      return;
    }
    parseJson(request, text, done);
  });
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Compiles every route schema not compiled yet (they compile on first use; see deferred-schemas.ts). */
    compileSchemas(): Promise<void>;
  }
}

/** The largest request body any route takes (API.md "Abuse limits"): JSON and forms alike. */
export const BODY_LIMIT = 64 * 1024;
const HEADERS_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_MS = 72_000;

/**
 * The HTTP server every route runs in, before any route: Fastify's options (timeouts, proxies, ids),
 * the JSON parser, the error handlers, the hooks of every request (security headers, draining,
 * no-store for credentialed answers, one log line), request metrics and CORS.
 */
export async function createHttpServer(options: {
  config: Config;
  /** A pino logger; none means silent. */
  logger: FastifyBaseLogger | undefined;
  metrics: Metrics | undefined;
}) {
  const { config, metrics } = options;
  const deps = { logger: options.logger };
  // The security headers of every answer, the framework's own refusals included.
  const headers = securityHeaders({ crossOrigin: config.corsOrigins.length > 0 });
  const schemas = createDeferredSchemas();

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
    // request.log is made on the first line a request logs, not for every request (logging.ts).
    ...(deps.logger && {
      childLoggerFactory: (logger: FastifyBaseLogger, bindings: Record<string, unknown>) =>
        lazyRequestLogger(logger as Logger, bindings),
    }),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Answered by the onRequest hook below instead, as a problem document with the usual headers.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 200 },
    // Response serialisers compiled on first use (deferred-schemas.ts), as the validators are.
    schemaController: { compilersFactory: { buildSerializer: schemas.buildSerializer } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(schemas.validator(createValidatorCompiler()));
  app.decorate('compileSchemas', () => schemas.compilePending());
  // JSON only (API.md): Fastify's default text/plain parser would let a text body reach validation.
  app.removeContentTypeParser('text/plain');
  useJsonParser(app);
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
  const writeLine = deps.logger ? requestLineWriter(deps.logger as Logger) : undefined;
  if (writeLine) {
    app.addHook('onResponse', (request, reply, done) => {
      writeLine({
        reqId: request.id,
        method: request.method,
        url: loggableUrl(request.url),
        route: request.routeOptions.url,
        statusCode: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
        ip: request.ip,
        userId: request.principal?.userId,
      });
      done();
    });
  }

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

  return app;
}

export type HttpServer = Awaited<ReturnType<typeof createHttpServer>>;
