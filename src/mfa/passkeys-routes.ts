import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requestFacts } from '../audit/events.ts';
import { principalOf, type RequireAuth, type StepUp } from '../authz/principal.ts';
import { Type } from '../http/json-schema.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { problemResponses } from '../http/problem.ts';
import type { PasskeyPublic, Passkeys } from './passkeys.ts';

const Passkey = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String({ examples: ['Laptop'] }),
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    backed_up: Type.Boolean({ description: 'the credential is synced to a backup (a multi-device passkey)' }),
  },
  { description: 'A passkey' },
);
const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });
/** A WebAuthn response in its JSON form (@simplewebauthn/browser's), checked by the verifier. */
const WebAuthnJson = Type.Object(
  {},
  { additionalProperties: true, maxProperties: 10, description: 'the WebAuthn response, JSON form' },
);

const toPublic = (passkey: PasskeyPublic) => ({
  ...passkey,
  created_at: passkey.created_at.toISOString(),
  last_used_at: passkey.last_used_at?.toISOString() ?? null,
});

/** Passkeys over JSON (API.md "Multi-factor authentication"). */
export const passkeyRoutes: FastifyPluginAsyncTypebox<{
  passkeys: Passkeys;
  requireAuth: RequireAuth;
  stepUp: StepUp;
}> = async (app, { passkeys, requireAuth, stepUp }) => {
  const profile = [{ [SECURITY_SCHEME]: ['profile'] }];
  const params = Type.Object({ id: Type.String({ maxLength: 100, description: 'passkey id (UUID)' }) });

  app.post(
    '/users/me/passkeys/options',
    {
      onRequest: [requireAuth('profile'), stepUp.required],
      schema: {
        tags: ['accounts'],
        summary: 'Start adding a passkey: WebAuthn creation options',
        description:
          'For `navigator.credentials.create()` (JSON form, as @simplewebauthn/browser takes it): a discoverable credential with user verification required, for the relying party the host of APP_URL. The challenge is good once, for five minutes.',
        security: profile,
        response: {
          200: Type.Object(
            {},
            { additionalProperties: true, description: 'PublicKeyCredentialCreationOptionsJSON' },
          ),
          ...problemResponses(401, 403, 409),
        },
      },
    },
    async (request) => passkeys.registrationOptions(principalOf(request).userId),
  );

  app.post(
    '/users/me/passkeys',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Add a passkey: the registration response',
        description:
          'Verified against the challenge of your options (once), the origin of APP_URL and user verification. The account’s first second factor comes with ten recovery codes, shown this once. 422 (`/response`) when it does not verify.',
        security: profile,
        body: Type.Object(
          { name: Type.Optional(Name), response: WebAuthnJson },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object(
            {
              ...Passkey.properties,
              recovery_codes: Type.Optional(
                Type.Array(Type.String(), { description: 'the first factor’s recovery codes' }),
              ),
            },
            { description: 'Added' },
          ),
          ...problemResponses(400, 401, 403, 409, 413, 415, 422),
        },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          toPublic(await passkeys.register(principalOf(request).userId, request.body, requestFacts(request))),
        ),
  );

  app.get(
    '/users/me/passkeys',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Your passkeys',
        description: 'Newest first.',
        security: profile,
        response: {
          200: Type.Object({ data: Type.Array(Passkey) }, { description: 'Your passkeys' }),
          ...problemResponses(401, 403),
        },
      },
    },
    async (request) => ({ data: (await passkeys.list(principalOf(request).userId)).map(toPublic) }),
  );

  app.patch(
    '/users/me/passkeys/:id',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Rename a passkey',
        description: '404 for an id that is not one of your passkeys.',
        security: profile,
        params,
        body: Type.Object({ name: Name }, { additionalProperties: false }),
        response: { 200: Passkey, ...problemResponses(400, 401, 403, 404, 413, 415, 422) },
      },
    },
    async (request) =>
      toPublic(await passkeys.rename(principalOf(request).userId, request.params.id, request.body.name)),
  );

  app.delete(
    '/users/me/passkeys/:id',
    {
      onRequest: [requireAuth('profile'), stepUp.required],
      schema: {
        tags: ['accounts'],
        summary: 'Remove a passkey',
        description:
          'It can no longer sign in. The recovery codes go with the last second factor. Needs a two-factor sign-in from the last minutes (STEP_UP_MAX_AGE). 404 for an id that is not one of yours.',
        security: profile,
        params,
        response: { 204: Type.Null({ description: 'Removed' }), ...problemResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await passkeys.remove(principalOf(request).userId, request.params.id, requestFacts(request));
      return reply.code(204).send(null);
    },
  );
};
