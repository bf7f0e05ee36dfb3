import { SCOPES } from '../../authz/scopes.ts';
import { Type } from '../../http/json-schema.ts';
import { PageQuery } from '../../http/pagination.ts';
import { REDIRECT_URI_MAX } from './redirect-uris.ts';

const ClientType = Type.Union([Type.Literal('public'), Type.Literal('confidential')], {
  description:
    '`public`: no secret (browser apps, CLIs, mobile apps); `confidential`: a secret kept on a server',
});
const Name = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[^\\u0000-\\u001f\\u007f]+$',
  examples: ['Notes app'],
});
const RedirectUris = Type.Array(Type.String({ minLength: 1, maxLength: REDIRECT_URI_MAX }), {
  minItems: 1,
  maxItems: 10,
  description:
    'exact URIs: https:, http: on a loopback host (any port matches it, RFC 8252 §7.3), or a private-use scheme for a public client; no fragment, no wildcard',
  examples: [['https://notes.example.com/callback']],
});
const Scopes = Type.Array(Type.Union(SCOPES.map((scope) => Type.Literal(scope))), {
  uniqueItems: true,
  maxItems: SCOPES.length,
  description: 'the most the client may ask for; every scope but admin by default',
});
const FirstParty = Type.Boolean({
  description: 'trusted by the operator: its users are not asked to consent',
});

export const ClientPublic = Type.Object(
  {
    client_id: Type.String({ examples: ['3f2bQ0xq8Vx1r4mZ9c7bYw'] }),
    name: Type.String({ examples: ['Notes app'] }),
    type: ClientType,
    redirect_uris: Type.Array(Type.String()),
    scopes: Type.Array(Type.String({ examples: ['profile'] })),
    first_party: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'OAuthClient', description: 'A registered OAuth client; never carries its secret' },
);

export const ClientCreated = Type.Object(
  {
    ...ClientPublic.properties,
    client_secret: Type.Optional(
      Type.String({ description: 'a confidential client’s secret: shown this once, kept only as a hash' }),
    ),
  },
  { description: 'Registered; Location names the client' },
);

export const ClientSecret = Type.Object(
  {
    client_secret: Type.String({
      description: 'the new secret, shown this once; the old one no longer works',
    }),
  },
  { description: 'A new secret' },
);

export const CreateClientBody = Type.Object(
  {
    name: Name,
    type: ClientType,
    redirect_uris: RedirectUris,
    scopes: Type.Optional(Scopes),
    first_party: Type.Optional(FirstParty),
  },
  { additionalProperties: false },
);

export const PatchClientBody = Type.Object(
  {
    name: Type.Optional(Name),
    redirect_uris: Type.Optional(RedirectUris),
    scopes: Type.Optional(Scopes),
    first_party: Type.Optional(FirstParty),
  },
  { additionalProperties: false },
);

export const ClientIdParams = Type.Object({
  client_id: Type.String({ minLength: 1, maxLength: 100, description: 'the client’s client_id' }),
});

export const ListClientsQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
