import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OpenDatabase } from '../db/database.ts';
import { HttpError, ServiceUnavailableError } from './errors.ts';
import { Type } from './json-schema.ts';
import type { Metrics } from './metrics.ts';
import { preferredType } from './negotiation.ts';
import { problemResponses } from './problem.ts';

const READY_TIMEOUT_MS = 3000;

/** Constant-time: a wrong METRICS_TOKEN guess learns nothing from how long the answer took. */
function isBearer(header: string | undefined, token: string): boolean {
  const expected = createHash('sha256').update(`Bearer ${token}`).digest();
  const given = createHash('sha256')
    .update(header ?? '')
    .digest();
  return timingSafeEqual(expected, given);
}

export const metaRoutes: FastifyPluginAsyncTypebox<{
  database: OpenDatabase;
  metrics: Metrics | undefined;
  /** When set, /metrics answers only `Authorization: Bearer <token>` (production). */
  metricsToken: string | undefined;
  /** With REDIS_URL: whether the revocation fan-out is subscribed (readyz tells, but stays ready). */
  fanOutUp: (() => boolean) | undefined;
  /** The reader site's home page, for a browser (Accept preferring text/html over JSON). */
  home?: ((request: FastifyRequest, reply: FastifyReply) => Promise<unknown>) | undefined;
}> = async (app, { database, metrics, metricsToken, fanOutUp, home }) => {
  app.get(
    '/',
    {
      schema: {
        tags: ['meta'],
        summary: 'Welcome (JSON), or the reader site’s home page for a browser',
        description:
          'Names the service and where its documentation is. A browser (Accept preferring text/html) gets the reader site’s home page: the newest published posts, and "Older posts" by `cursor`. `Vary: Accept`.',
        querystring: Type.Object(
          {
            cursor: Type.Optional(
              Type.String({ maxLength: 200, description: 'the home page’s "Older posts" link' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'The welcome (JSON), or the home page (HTML)',
            content: {
              'application/json': {
                schema: Type.Object({ message: Type.String(), docs: Type.String({ examples: ['/docs'] }) }),
              },
              'text/html': { schema: { type: 'string' } },
            },
          },
          304: { description: 'The home page, not modified' },
          404: {
            description: 'An "Older posts" cursor that is not ours',
            content: { 'text/html': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (request, reply) => {
      if (home && preferredType(request.headers.accept, ['application/json', 'text/html']) === 'text/html') {
        reply.header('vary', 'Accept');
        return home(request, reply);
      }
      reply.header('vary', 'Accept');
      return { message: 'Welcome to your blog!', docs: '/docs' };
    },
  );

  app.get(
    '/healthz',
    {
      schema: {
        tags: ['meta'],
        summary: 'Liveness: 200 while the process is up',
        description: 'Answers without touching the database, so an outage never makes the process look dead.',
        response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'The process is up' }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['meta'],
        summary: 'Readiness: 200 when the database answers, else 503',
        description:
          'For a load balancer: 503 with Retry-After while the database does not answer. With REDIS_URL, `redis` says whether revocations made on other instances reach this one at once (`ok`) or, while Redis or the subscription is down, within the one-second bound (`degraded`); the instance stays ready either way.',
        response: {
          200: Type.Object(
            {
              status: Type.Literal('ok'),
              redis: Type.Optional(
                Type.Union([Type.Literal('ok'), Type.Literal('degraded')], {
                  description: 'Present with REDIS_URL: the revocation fan-out',
                }),
              ),
            },
            { description: 'The database answers' },
          ),
          ...problemResponses(503),
        },
      },
    },
    async () => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('database ping timed out')), READY_TIMEOUT_MS);
      });
      try {
        await Promise.race([database.ping(), timeout]);
      } catch (error) {
        throw new ServiceUnavailableError('the database is not answering', 5, { cause: error });
      } finally {
        clearTimeout(timer);
      }
      if (fanOutUp === undefined) return { status: 'ok' as const };
      return { status: 'ok' as const, redis: fanOutUp() ? ('ok' as const) : ('degraded' as const) };
    },
  );

  if (metrics) {
    app.get(
      '/metrics',
      {
        schema: {
          tags: ['meta'],
          summary: 'Prometheus metrics (text exposition format)',
          produces: ['text/plain'],
          description:
            'Open outside production; in production it needs `Authorization: Bearer $METRICS_TOKEN` and is off without it.',
          response: {
            200: {
              description: 'Prometheus text format',
              content: { 'text/plain': { schema: Type.String() } },
            },
            ...problemResponses(401),
          },
        },
      },
      async (request, reply) => {
        if (metricsToken !== undefined && !isBearer(request.headers.authorization, metricsToken)) {
          throw new HttpError(401, 'unauthenticated', '/metrics needs its bearer token (METRICS_TOKEN)', {
            headers: { 'www-authenticate': 'Bearer realm="metrics"' },
          });
        }
        reply.type(metrics.registry.contentType);
        return metrics.registry.metrics();
      },
    );
  }
};
