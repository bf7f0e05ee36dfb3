import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { adminFacts } from '../audit/events.ts';
import type { RequireAuth } from '../authz/principal.ts';
import { Type } from '../http/json-schema.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { Page } from '../http/pagination.ts';
import { problemResponses } from '../http/problem.ts';
import { ref } from '../http/schema-ref.ts';
import type { AdminAccounts } from './admin.ts';
import { toUserPublic } from './routes.ts';
import { AdminUpdateUserBody, ListUsersQuery, UserIdParams, UserPublic } from './schemas.ts';

/** Admin management of accounts: /users (list) and /users/{id}; every route needs the admin scope. */
export const adminRoutes: FastifyPluginAsyncTypebox<{
  accounts: AdminAccounts;
  requireAuth: RequireAuth;
}> = async (app, { accounts, requireAuth }) => {
  const admin = [{ [SECURITY_SCHEME]: ['admin'] }];
  const User = ref(UserPublic, 'The user');

  app.get(
    '/users',
    {
      onRequest: requireAuth('admin'),
      schema: {
        tags: ['admin'],
        summary: 'List users, newest first',
        description:
          'Every account, disabled ones included, a page at a time (`limit`, `cursor`). Needs the admin scope.',
        security: admin,
        querystring: ListUsersQuery,
        response: { 200: Page(ref(UserPublic), 'A page of users'), ...problemResponses(401, 403, 422) },
      },
    },
    async (request) => {
      const page = await accounts.listUsers(request.query);
      return { data: page.data.map(toUserPublic), next_cursor: page.next_cursor };
    },
  );

  app.get(
    '/users/:id',
    {
      onRequest: requireAuth('admin'),
      schema: {
        tags: ['admin'],
        summary: 'Read a user',
        description:
          'One account by its id; an id that is not a UUID is a 404, like an unknown one. Needs the admin scope.',
        security: admin,
        params: UserIdParams,
        response: { 200: User, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => toUserPublic(await accounts.getUser(request.params.id)),
  );

  app.patch(
    '/users/:id',
    {
      onRequest: requireAuth('admin'),
      schema: {
        tags: ['admin'],
        summary: 'Change a user’s role, status, name or email',
        description:
          'Disabling a user ends all of their sessions at once; a role change applies to tokens already issued. ' +
          'The last enabled admin cannot be disabled or demoted (409).',
        security: admin,
        params: UserIdParams,
        body: AdminUpdateUserBody,
        response: { 200: User, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422) },
      },
    },
    async (request) =>
      toUserPublic(await accounts.adminUpdate(request.params.id, request.body, adminFacts(request))),
  );

  app.delete(
    '/users/:id',
    {
      onRequest: requireAuth('admin'),
      schema: {
        tags: ['admin'],
        summary: 'Delete a user with their posts and sessions',
        description: 'The last enabled admin cannot be deleted (409).',
        security: admin,
        params: UserIdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...problemResponses(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await accounts.deleteUser(request.params.id, adminFacts(request));
      return reply.code(204).send(null);
    },
  );
};
