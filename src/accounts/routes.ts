import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { principalOf, type RequireAuth } from '../auth/guard.ts';
import type { UserRow } from '../db/schema.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { problemResponses } from '../http/problem.ts';
import { ref } from '../http/schema-ref.ts';
import { CreateUserBody, UpdateMeBody, UserPublic } from './schemas.ts';
import type { AccountsService } from './service.ts';

/** The one place a user row becomes an answer: the hash is never copied. */
export function toUserPublic(user: UserRow) {
  const { id, username, email, full_name, role, disabled, created_at, updated_at } = user;
  return {
    id,
    username,
    email,
    full_name,
    role,
    disabled,
    created_at: created_at.toISOString(),
    updated_at: updated_at.toISOString(),
  };
}

export const accountsRoutes: FastifyPluginAsyncTypebox<{
  accounts: AccountsService;
  requireAuth: RequireAuth;
}> = async (app, { accounts, requireAuth }) => {
  const profile = [{ [SECURITY_SCHEME]: ['profile'] }];

  app.post(
    '/users',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Sign up',
        description: 'Creates an account with the user role. Passwords are stored as Argon2id hashes.',
        body: CreateUserBody,
        response: {
          201: ref(UserPublic, 'Created; Location names the new user'),
          ...problemResponses(400, 409, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const user = await accounts.signup(request.body);
      return reply.code(201).header('location', `/users/${user.id}`).send(toUserPublic(user));
    },
  );

  app.get(
    '/users/me',
    {
      preHandler: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Your account',
        security: profile,
        response: { 200: ref(UserPublic, 'Your account'), ...problemResponses(401, 403) },
      },
    },
    async (request) => toUserPublic(await accounts.getUser(principalOf(request).userId)),
  );

  app.patch(
    '/users/me',
    {
      preHandler: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Change your name or email address',
        security: profile,
        body: UpdateMeBody,
        response: {
          200: ref(UserPublic, 'Your account, changed'),
          ...problemResponses(400, 401, 403, 409, 413, 415, 422),
        },
      },
    },
    async (request) => toUserPublic(await accounts.updateProfile(principalOf(request).userId, request.body)),
  );
};
