import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ACR_VALUES } from '../authz/authentication.ts';
import { SCOPES } from '../authz/scopes.ts';
import { Type } from '../http/json-schema.ts';

const Metadata = Type.Object(
  {
    issuer: Type.String({ examples: ['https://blog.example.com'] }),
    authorization_endpoint: Type.String(),
    token_endpoint: Type.String(),
    revocation_endpoint: Type.String(),
    jwks_uri: Type.String(),
    grant_types_supported: Type.Array(Type.String()),
    scopes_supported: Type.Array(Type.String()),
    response_types_supported: Type.Array(Type.String()),
    response_modes_supported: Type.Array(Type.String()),
    code_challenge_methods_supported: Type.Array(Type.String()),
    authorization_response_iss_parameter_supported: Type.Boolean(),
    token_endpoint_auth_methods_supported: Type.Array(Type.String()),
    revocation_endpoint_auth_methods_supported: Type.Array(Type.String()),
    acr_values_supported: Type.Array(Type.String()),
    service_documentation: Type.String(),
  },
  { description: 'RFC 8414 authorization server metadata' },
);

/** RFC 8414: where the endpoints and keys are, and what they support. */
export const metadataRoutes: FastifyPluginAsyncTypebox<{ issuer: string; passwordGrant: boolean }> = async (
  app,
  { issuer, passwordGrant },
) => {
  const clientAuthMethods = ['none', 'client_secret_basic', 'client_secret_post'];
  const metadata = {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/token/revoke`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: ['authorization_code', 'refresh_token', ...(passwordGrant ? ['password'] : [])],
    scopes_supported: [...SCOPES],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    // RFC 7636 §4.2, RFC 9700 §2.1.1: S256 only; plain would show the verifier to whoever sees the request.
    code_challenge_methods_supported: ['S256'],
    // RFC 9207: every authorization answer names the issuer.
    authorization_response_iss_parameter_supported: true,
    token_endpoint_auth_methods_supported: clientAuthMethods,
    revocation_endpoint_auth_methods_supported: clientAuthMethods,
    // The two levels a sign-in reaches (API.md "Multi-factor authentication"); RFC 9470 step-up asks for mfa.
    acr_values_supported: [...ACR_VALUES],
    service_documentation: `${issuer}/docs`,
  };

  app.get(
    '/.well-known/oauth-authorization-server',
    {
      schema: {
        tags: ['auth'],
        summary: 'OAuth 2.0 authorization server metadata (RFC 8414)',
        description:
          'Where the token and revocation endpoints and the keys are, and what they support: the issuer, grant types, scopes and client authentication methods.',
        response: { 200: Metadata },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=3600');
      return metadata;
    },
  );
};
