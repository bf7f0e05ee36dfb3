import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requestFacts } from '../audit/events.ts';
import { principalOf, type RequireAuth } from '../authz/principal.ts';
import { Type } from '../http/json-schema.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { problemResponses } from '../http/problem.ts';
import type { Authorizations } from './authorizations.ts';

const ConnectedApp = Type.Object({
  client_id: Type.String(),
  client_name: Type.Union([Type.String(), Type.Null()], { description: 'null once the client is deleted' }),
  scopes: Type.Array(Type.String({ examples: ['profile'] })),
  granted_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({
    format: 'date-time',
    description: 'the last authorization that needed no new consent',
  }),
});

/** Connected apps: the clients the caller consented to (API.md "Authorization"). */
export const authorizationRoutes: FastifyPluginAsyncTypebox<{
  authorizations: Authorizations;
  requireAuth: RequireAuth;
}> = async (app, { authorizations, requireAuth }) => {
  const profile = [{ [SECURITY_SCHEME]: ['profile'] }];

  app.get(
    '/users/me/authorizations',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'The apps you let act for you',
        description:
          'Each third-party client you consented to, with the scopes granted; most recently used first.',
        security: profile,
        response: {
          200: Type.Object({ data: Type.Array(ConnectedApp) }, { description: 'Your connected apps' }),
          ...problemResponses(401, 403),
        },
      },
    },
    async (request) => {
      const apps = await authorizations.list(principalOf(request).userId);
      return {
        data: apps.map((connected) => ({
          ...connected,
          scopes: [...connected.scopes],
          granted_at: connected.granted_at.toISOString(),
          last_used_at: connected.last_used_at.toISOString(),
        })),
      };
    },
  );

  app.delete(
    '/users/me/authorizations/:client_id',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Withdraw an app’s access: its sessions end',
        description:
          'The consent goes, and every session of that client for you ends, on every instance within the revocation bound. The app must ask again. 404 when you have neither a consent to it nor a session of it.',
        security: profile,
        params: Type.Object({ client_id: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: { 204: Type.Null({ description: 'Withdrawn' }), ...problemResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await authorizations.revoke(
        principalOf(request).userId,
        request.params.client_id,
        requestFacts(request),
      );
      return reply.code(204).send(null);
    },
  );
};
