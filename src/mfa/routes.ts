import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { adminFacts, requestFacts } from '../audit/events.ts';
import { principalOf, type RequireAuth, type StepUp } from '../authz/principal.ts';
import { Type } from '../http/json-schema.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { problemResponses } from '../http/problem.ts';
import type { Mfa } from './service.ts';

const RecoveryCodes = Type.Object(
  {
    recovery_codes: Type.Array(Type.String({ examples: ['7k2q-9xm4-hb3t-0vnd'] }), {
      description: 'shown this once: keep them somewhere safe; each works once',
    }),
  },
  { description: 'Recovery codes' },
);

/** Second factors over JSON (API.md "Multi-factor authentication"); passkeys have their own routes. */
export const mfaRoutes: FastifyPluginAsyncTypebox<{
  mfa: Mfa;
  requireAuth: RequireAuth;
  stepUp: StepUp;
}> = async (app, { mfa, requireAuth, stepUp }) => {
  const profile = [{ [SECURITY_SCHEME]: ['profile'] }];
  const stepUpNote =
    ' With a second factor already set up, this needs a two-factor sign-in from the last minutes (STEP_UP_MAX_AGE): else 401 `insufficient_user_authentication` (RFC 9470).';

  app.get(
    '/users/me/mfa',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Your second factors',
        description:
          'Whether an authenticator app is set up, how many passkeys and unused recovery codes you have, and whether MFA_REQUIRED covers you.',
        security: profile,
        response: {
          200: Type.Object(
            {
              totp: Type.Boolean(),
              passkeys: Type.Integer({ minimum: 0 }),
              recovery_codes_left: Type.Integer({ minimum: 0 }),
              required: Type.Boolean({ description: 'MFA_REQUIRED covers this account' }),
            },
            { description: 'Your second factors' },
          ),
          ...problemResponses(401, 403),
        },
      },
    },
    async (request) => mfa.status(principalOf(request).userId),
  );

  app.post(
    '/users/me/mfa/totp',
    {
      onRequest: [requireAuth('profile'), stepUp.required],
      schema: {
        tags: ['accounts'],
        summary: 'Start setting up an authenticator app (TOTP)',
        description:
          'A new secret (base32) and its `otpauth://` URI for the app; it is not active until POST /users/me/mfa/totp/confirm takes a code from it. 409 while an app is set up.' +
          stepUpNote,
        security: profile,
        response: {
          201: Type.Object(
            {
              secret: Type.String({ examples: ['JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'] }),
              otpauth_uri: Type.String({
                examples: [
                  'otpauth://totp/inkgate.example:ada?issuer=inkgate.example&secret=JBSW…&algorithm=SHA1&digits=6&period=30',
                ],
              }),
            },
            { description: 'The secret, shown this once' },
          ),
          ...problemResponses(401, 403, 409),
        },
      },
    },
    async (request, reply) => reply.code(201).send(await mfa.startTotp(principalOf(request).userId)),
  );

  app.post(
    '/users/me/mfa/totp/confirm',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Turn the authenticator app on with a code from it',
        description:
          'A wrong code is 422 (`/code`). When this is your first second factor, the answer holds a fresh set of ten recovery codes (shown this once); else `[]`.',
        security: profile,
        body: Type.Object(
          { code: Type.String({ minLength: 1, maxLength: 16, examples: ['492039'] }) },
          { additionalProperties: false },
        ),
        response: { 200: RecoveryCodes, ...problemResponses(400, 401, 403, 409, 413, 415, 422) },
      },
    },
    async (request) => mfa.confirmTotp(principalOf(request).userId, request.body.code, requestFacts(request)),
  );

  app.delete(
    '/users/me/mfa/totp',
    {
      onRequest: [requireAuth('profile'), stepUp.required],
      schema: {
        tags: ['accounts'],
        summary: 'Remove the authenticator app',
        description: `The recovery codes go with the last second factor. 404 when none is set up.${stepUpNote}`,
        security: profile,
        response: { 204: Type.Null({ description: 'Removed' }), ...problemResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await mfa.removeTotp(principalOf(request).userId, requestFacts(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/users/me/mfa/recovery-codes',
    {
      onRequest: [requireAuth('profile'), stepUp.required],
      schema: {
        tags: ['accounts'],
        summary: 'A new set of recovery codes',
        description: `Ten new codes, shown this once; the old ones stop working. 409 without a second factor.${stepUpNote}`,
        security: profile,
        response: { 200: RecoveryCodes, ...problemResponses(401, 403, 409) },
      },
    },
    async (request) => mfa.renewRecoveryCodes(principalOf(request).userId, requestFacts(request)),
  );

  app.delete(
    '/users/:id/mfa',
    {
      onRequest: requireAuth('admin'),
      schema: {
        tags: ['admin'],
        summary: 'Remove every second factor of a user (account recovery)',
        description:
          'The authenticator app, passkeys and recovery codes go, every session of the user ends, and they get a notice. Recorded as `mfa_reset`. 404 for no such user.',
        security: [{ [SECURITY_SCHEME]: ['admin'] }],
        params: Type.Object({ id: Type.String({ maxLength: 100 }) }),
        response: { 204: Type.Null({ description: 'Removed' }), ...problemResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await mfa.adminReset(request.params.id, adminFacts(request));
      return reply.code(204).send(null);
    },
  );
};
