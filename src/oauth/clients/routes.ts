import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { adminFacts } from '../../audit/events.ts';
import type { RequireAuth } from '../../authz/principal.ts';
import { Type } from '../../http/json-schema.ts';
import { SECURITY_SCHEME } from '../../http/openapi.ts';
import { Page } from '../../http/pagination.ts';
import { problemResponses } from '../../http/problem.ts';
import { ref } from '../../http/schema-ref.ts';
import {
  ClientCreated,
  ClientIdParams,
  ClientPublic,
  ClientSecret,
  CreateClientBody,
  ListClientsQuery,
  PatchClientBody,
} from './schemas.ts';
import type { Client, ClientsService } from './service.ts';

/** The one place a client becomes an answer. */
const toClientPublic = (client: Client) => ({
  ...client,
  redirect_uris: [...client.redirect_uris],
  scopes: [...client.scopes],
  created_at: client.created_at.toISOString(),
  updated_at: client.updated_at.toISOString(),
});

/** Admin management of OAuth clients (API.md "Authorization"); every route needs the admin scope. */
export const clientRoutes: FastifyPluginAsyncTypebox<{
  clients: ClientsService;
  requireAuth: RequireAuth;
}> = async (app, { clients, requireAuth }) => {
  const admin = [{ [SECURITY_SCHEME]: ['admin'] }];
  const OneClient = ref(ClientPublic, 'The client');

  app.get(
    '/oauth-clients',
    {
      onRequest: requireAuth('admin'),
      schema: {
        tags: ['oauth-clients'],
        summary: 'List OAuth clients, newest first',
        description:
          'Every registered client, newest first, a page at a time. The first-party client is defined by the settings (CLIENT_ID): read it at GET /oauth-clients/{CLIENT_ID}.',
        security: admin,
        querystring: ListClientsQuery,
        response: { 200: Page(ref(ClientPublic), 'A page of clients'), ...problemResponses(401, 403, 422) },
      },
    },
    async (request) => {
      const page = await clients.list(request.query);
      return { data: page.data.map(toClientPublic), next_cursor: page.next_cursor };
    },
  );

  app.post(
    '/oauth-clients',
    {
      onRequest: requireAuth('admin'),
      schema: {
        tags: ['oauth-clients'],
        summary: 'Register an OAuth client',
        description:
          'A confidential client gets a secret of 256 random bits, in this answer only (inkgate keeps a hash). ' +
          'Redirect URIs are matched exactly; one that breaks the rules is 422 naming it.',
        security: admin,
        body: CreateClientBody,
        response: { 201: ClientCreated, ...problemResponses(400, 401, 403, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const { client, secret } = await clients.create(request.body, adminFacts(request));
      reply.code(201).header('location', `/oauth-clients/${encodeURIComponent(client.client_id)}`);
      return { ...toClientPublic(client), ...(secret !== undefined && { client_secret: secret }) };
    },
  );

  app.get(
    '/oauth-clients/:client_id',
    {
      onRequest: requireAuth('admin'),
      schema: {
        tags: ['oauth-clients'],
        summary: 'Read an OAuth client',
        description: 'One client by its client_id; never its secret.',
        security: admin,
        params: ClientIdParams,
        response: { 200: OneClient, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => toClientPublic(await clients.get(request.params.client_id)),
  );

  app.patch(
    '/oauth-clients/:client_id',
    {
      onRequest: requireAuth('admin'),
      schema: {
        tags: ['oauth-clients'],
        summary: 'Change an OAuth client’s name, redirect URIs, scopes or first-party status',
        description: 'The first-party client (CLIENT_ID) is defined by the settings: 409.',
        security: admin,
        params: ClientIdParams,
        body: PatchClientBody,
        response: { 200: OneClient, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422) },
      },
    },
    async (request) =>
      toClientPublic(await clients.update(request.params.client_id, request.body, adminFacts(request))),
  );

  app.delete(
    '/oauth-clients/:client_id',
    {
      onRequest: requireAuth('admin'),
      schema: {
        tags: ['oauth-clients'],
        summary: 'Delete an OAuth client: every session it has ends',
        description:
          'Every session of the client, for every user, ends in the same transaction, on every instance within the revocation bound. The first-party client cannot be deleted (409).',
        security: admin,
        params: ClientIdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...problemResponses(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await clients.remove(request.params.client_id, adminFacts(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/oauth-clients/:client_id/secret',
    {
      onRequest: requireAuth('admin'),
      schema: {
        tags: ['oauth-clients'],
        summary: 'Give a confidential client a new secret',
        description: 'The old secret stops working at once. A public client has none (409).',
        security: admin,
        params: ClientIdParams,
        response: { 200: ClientSecret, ...problemResponses(401, 403, 404, 409) },
      },
    },
    async (request) => ({
      client_secret: await clients.rotateSecret(request.params.client_id, adminFacts(request)),
    }),
  );
};
