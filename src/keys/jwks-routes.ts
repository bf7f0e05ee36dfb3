import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '../http/json-schema.ts';
import type { KeyRing } from './key-ring.ts';

const Jwks = Type.Object(
  {
    keys: Type.Array(
      Type.Object(
        {
          kty: Type.String({ examples: ['EC'] }),
          kid: Type.String(),
          alg: Type.String({ examples: ['ES256'] }),
          use: Type.Literal('sig'),
          crv: Type.Optional(Type.String({ examples: ['P-256'] })),
          x: Type.Optional(Type.String()),
          y: Type.Optional(Type.String()),
          n: Type.Optional(Type.String()),
          e: Type.Optional(Type.String()),
        },
        { description: 'A public key (RFC 7517); private members never appear here' },
      ),
    ),
  },
  {
    description: 'The keys that verify access tokens: current, published-ahead and still-valid previous ones',
  },
);

/** RFC 7517 §5: the public keys that verify access tokens. */
export const jwksRoutes: FastifyPluginAsyncTypebox<{ keys: KeyRing }> = async (app, { keys }) => {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['auth'],
        summary: 'JSON Web Key Set: the public keys that verify access tokens',
        description:
          'Empty under HS256 (a shared secret is never published). Cacheable for less than an access-token lifetime; ' +
          'a new key appears here before it signs anything.',
        response: { 200: Jwks },
      },
    },
    async (_request, reply) => {
      await keys.refresh();
      reply.header('cache-control', `public, max-age=${keys.jwksMaxAgeSeconds}`);
      return { keys: keys.publicJwks() };
    },
  );
};
