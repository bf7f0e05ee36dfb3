import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requestFacts } from '../audit/events.ts';
import { principalOf, type RequireAuth } from '../authz/principal.ts';
import { NotFoundError } from '../http/errors.ts';
import { Type } from '../http/json-schema.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { problemResponses } from '../http/problem.ts';
import type { SessionsService } from './service.ts';

export const SessionPublic = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    created_at: Type.String({ format: 'date-time', description: 'when you logged in' }),
    last_used_at: Type.String({ format: 'date-time', description: 'the last login or refresh' }),
    expires_at: Type.String({
      format: 'date-time',
      description: 'when it ends unless refreshed (idle) or at the latest',
    }),
    user_agent: Type.String({ examples: ['Mozilla/5.0 (X11; Linux x86_64)'] }),
    ip: Type.String({ examples: ['203.0.113.7'] }),
    client_id: Type.String({ examples: ['inkgate'], description: 'the client the session was made for' }),
    client_name: Type.Union([Type.String(), Type.Null()], {
      examples: ['inkgate (first party)'],
      description: 'its name; null once the client is deleted',
    }),
    kind: Type.Union([Type.Literal('token'), Type.Literal('browser')], {
      description:
        '`token`: a client’s tokens; `browser`: a browser’s sign-in at the login page (ending it signs that browser out; the client sessions made through it stay)',
    }),
    current: Type.Boolean({ description: 'the session of the token making this request' }),
  },
  { $id: 'Session', description: 'A login: its refresh tokens and access tokens end with it' },
);

const SessionIdParams = Type.Object({
  id: Type.String({ maxLength: 100, description: 'session id (UUID)' }),
});

export const sessionRoutes: FastifyPluginAsyncTypebox<{
  sessions: SessionsService;
  requireAuth: RequireAuth;
  /** The name of a client (the OAuth clients know them; sessions only their ids). */
  clientName: (clientId: string) => Promise<string | undefined>;
}> = async (app, { sessions, requireAuth, clientName }) => {
  const profile = [{ [SECURITY_SCHEME]: ['profile'] }];

  app.get(
    '/users/me/sessions',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Your live sessions (logins), newest first',
        description:
          'Each login that has not ended or expired: when and from where it started (address, user agent), when it was last used, when it expires, and which one is this one.',
        security: profile,
        response: {
          200: Type.Object(
            { data: Type.Array(Type.Unsafe({ $ref: 'Session#' })) },
            { description: 'Your sessions' },
          ),
          ...problemResponses(401, 403),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const list = await sessions.list(principal.userId, principal.sessionId);
      const names = new Map<string, string | null>();
      for (const clientId of new Set(list.map((session) => session.client_id))) {
        names.set(clientId, (await clientName(clientId)) ?? null);
      }
      return {
        data: list.map((session) => ({ ...session, client_name: names.get(session.client_id) ?? null })),
      };
    },
  );

  app.delete(
    '/users/me/sessions/:id',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Log one session out: its refresh and access tokens stop working',
        description:
          'One of your sessions by its id, on every instance within a second. Someone else’s session, or one that has ended, is 404.',
        security: profile,
        params: SessionIdParams,
        response: { 204: Type.Null({ description: 'Revoked' }), ...problemResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const revoked = await sessions.revokeOwn(
        principalOf(request).userId,
        request.params.id,
        requestFacts(request),
      );
      if (!revoked) throw new NotFoundError('session not found', 'session_not_found');
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/users/me/sessions',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Log out everywhere: every session ends, this one included',
        description:
          'Every refresh token and every access token of your account stops working, on every instance within a second.',
        security: profile,
        response: { 204: Type.Null({ description: 'All sessions revoked' }), ...problemResponses(401, 403) },
      },
    },
    async (request, reply) => {
      await sessions.revokeAllOfUser(principalOf(request).userId, 'logout_everywhere', {
        facts: requestFacts(request),
      });
      return reply.code(204).send(null);
    },
  );
};
