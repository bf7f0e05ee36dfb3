import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { preHandlerAsyncHookHandler } from 'fastify';
import { requestFacts } from '../audit/events.ts';
import { principalOf, type RequireAuth, type StepUp } from '../authz/principal.ts';
import { SCOPES } from '../authz/scopes.ts';
import { Type } from '../http/json-schema.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { problemResponses } from '../http/problem.ts';
import {
  DEFAULT_LIFETIME_SECONDS,
  MAX_LIFETIME_SECONDS,
  MAX_PERSONAL_TOKENS,
  type PersonalTokenPublic,
  type PersonalTokens,
} from './service.ts';

export const PersonalToken = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String({ examples: ['backup script'] }),
    scopes: Type.Array(Type.String({ examples: ['posts:write'] })),
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'its last request, to the minute; null until it makes one',
    }),
    expires_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'PersonalToken', description: 'A personal access token; never carries the token itself' },
);

const CreateBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: '^[^\\u0000-\\u001f\\u007f]+$',
      description: 'what it is for, to tell it apart in the list',
      examples: ['backup script'],
    }),
    scopes: Type.Array(Type.Union(SCOPES.map((scope) => Type.Literal(scope))), {
      minItems: 1,
      maxItems: SCOPES.length,
      uniqueItems: true,
      description: 'what it may do: no more than the token making this request holds',
      examples: [['posts:write']],
    }),
    expires_in: Type.Optional(
      Type.Integer({
        format: 'int32',
        minimum: 60,
        maximum: MAX_LIFETIME_SECONDS,
        description: `seconds until it ends: at most a year; ${DEFAULT_LIFETIME_SECONDS / 86_400} days by default`,
        examples: [2_592_000],
      }),
    ),
  },
  { additionalProperties: false },
);

const toPublic = (token: PersonalTokenPublic) => ({
  id: token.id,
  name: token.name,
  scopes: [...token.scopes],
  created_at: token.created_at.toISOString(),
  last_used_at: token.last_used_at?.toISOString() ?? null,
  expires_at: token.expires_at.toISOString(),
});

/** Personal access tokens for scripts (API.md "Authorization"). */
export const personalTokenRoutes: FastifyPluginAsyncTypebox<{
  tokens: PersonalTokens;
  requireAuth: RequireAuth;
  /** Making one needs a recent two-factor sign-in from a user with a second factor. */
  stepUp: StepUp;
  /** RATE_LIMIT_WRITES, per user: creating tokens is a write like any other. */
  writeLimit: preHandlerAsyncHookHandler;
}> = async (app, { tokens, requireAuth, stepUp, writeLimit }) => {
  const profile = [{ [SECURITY_SCHEME]: ['profile'] }];

  app.get(
    '/users/me/tokens',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Your personal access tokens',
        description: 'The live ones (not revoked, not expired), newest first; never the tokens themselves.',
        security: profile,
        response: {
          200: Type.Object(
            { data: Type.Array(Type.Unsafe({ $ref: 'PersonalToken#' })) },
            { description: 'Your personal access tokens' },
          ),
          ...problemResponses(401, 403),
        },
      },
    },
    async (request) => ({ data: (await tokens.list(principalOf(request).userId)).map(toPublic) }),
  );

  app.post(
    '/users/me/tokens',
    {
      onRequest: [requireAuth('profile'), stepUp.required],
      preHandler: writeLimit,
      schema: {
        tags: ['accounts'],
        summary: 'Make a personal access token for a script',
        description:
          'The answer holds the token (`ink_pat_` and 256 random bits) this once; inkgate keeps only its SHA-256. ' +
          'Send it as `Authorization: Bearer`. It carries the scopes asked for, and never more than your role allows at the time of each request. ' +
          'It ends at `expires_at`, when you revoke it, when your password is reset, or when your account is disabled or deleted — on every instance within a second. ' +
          'Only a sign-in with inkgate itself may make one: not a personal token, not a third-party app’s token (403 `personal_token_refused`). ' +
          `An account holds at most ${MAX_PERSONAL_TOKENS} live ones (409 \`personal_token_limit\`).`,
        security: profile,
        body: CreateBody,
        response: {
          201: Type.Object(
            {
              ...PersonalToken.properties,
              token: Type.String({
                description: 'the token, shown this once',
                examples: ['ink_pat_pD1cQk3h7mS0vXo2lWqN9eR4tY6uI8aB5cZ1xF3gH7j'],
              }),
            },
            { description: 'Made: keep the token now, it is not shown again' },
          ),
          ...problemResponses(400, 401, 403, 409, 413, 415, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const made = await tokens.create(principalOf(request), request.body, requestFacts(request));
      return reply.code(201).send({ ...toPublic(made), token: made.token });
    },
  );

  app.delete(
    '/users/me/tokens/:id',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Revoke a personal access token',
        description:
          'It stops working at once here and on every other instance within a second. 404 for an id that is not one of your live tokens.',
        security: profile,
        params: Type.Object({ id: Type.String({ maxLength: 100, description: 'token id (UUID)' }) }),
        response: { 204: Type.Null({ description: 'Revoked' }), ...problemResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await tokens.revoke(principalOf(request).userId, request.params.id, requestFacts(request));
      return reply.code(204).send(null);
    },
  );
};
