import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { SCOPE_DESCRIPTIONS } from '../authz/scopes.ts';
import { limitOf, type RouteLimit } from './rate-limits.ts';

export const SECURITY_SCHEME = 'OAuth2PasswordBearer';
/** The RealWorld API's scheme (REALWORLD_API=on), as its specification declares it. */
export const REALWORLD_SCHEME = 'RealWorldToken';

/** `get` + `/users/me/sessions/:id` → `getUsersMeSessionsById`; `/` → `getRoot`. */
function operationIdOf(method: string, url: string): string {
  const words = url
    .split('/')
    .filter(Boolean)
    .flatMap((segment) =>
      segment.startsWith(':') ? ['by', segment.slice(1)] : segment.split(/[^A-Za-z0-9]+/).filter(Boolean),
    );
  const name = words.map((word) => word[0]!.toUpperCase() + word.slice(1)).join('');
  return `${method}${name || 'Root'}`;
}

type Responses = Record<string, { headers?: Record<string, unknown> }>;
type Operations = Record<string, Record<string, { responses?: Responses }>>;

const RETRY_AFTER = {
  description: 'Seconds to wait before trying again',
  required: true,
  schema: { type: 'integer', format: 'int32', minimum: 1, maximum: 86_400 },
  example: 60,
};

/**
 * The headers of a limited route's answers. Every answer that got as far as the count (every 2xx and
 * 429, and the errors found after it) names the policy and what is left of the caller's window; a
 * request refused before it (a bad body, no token) has nothing counted and carries neither.
 */
function documentLimit(responses: Responses, limit: RouteLimit): void {
  for (const [status, response] of Object.entries(responses)) {
    if (!/^[24]/.test(status)) continue;
    const counted = status.startsWith('2') || status === '429';
    response.headers = {
      ...response.headers,
      'RateLimit-Policy': {
        description: `The limit this route counts against (draft-ietf-httpapi-ratelimit-headers): "${limit.name}", q requests per w seconds`,
        required: counted,
        schema: { type: 'string', maxLength: 100 },
        example: `"${limit.name}";q=${limit.max};w=${limit.windowSeconds}`,
      },
      RateLimit: {
        description: 'What is left of your window: r more requests, t seconds until it starts over',
        required: counted,
        schema: { type: 'string', maxLength: 100 },
        example: `"${limit.name}";r=${status === '429' ? 0 : limit.max - 1};t=${limit.windowSeconds}`,
      },
    };
  }
}

/** `/posts/:id` → `/posts/{id}`, the OpenAPI spelling of a Fastify path. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * OpenAPI 3.1 from the route schemas, served at /openapi.json, and Swagger UI at /docs from the
 * npm package's own files (no CDN). The password flow's tokenUrl is relative, so the Authorize
 * dialog logs in against this same server.
 */
export async function registerOpenApi(
  app: FastifyInstance,
  options: { version: string; clientId: string; passwordGrant: boolean; realworld?: boolean },
): Promise<void> {
  const limited = new Map<string, RouteLimit>();
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'inkgate',
        version: options.version,
        description:
          'A blog API with an OAuth 2.1 authorization server (authorization code with PKCE), short-lived JWT ' +
          'access tokens, personal access tokens for scripts, and scopes. ' +
          'Click Authorize, sign in on inkgate’s own page, then try any route. ' +
          'Errors are RFC 9457 problem documents, except on /token, which answers RFC 6749 errors.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      // The instance serving this document, wherever it runs; a public API, not an internal one.
      servers: [{ url: '/', description: 'this server', 'x-internal': false } as { url: string }],
      tags: [
        { name: 'auth', description: 'OAuth 2.0 token and revocation endpoints, keys and metadata' },
        { name: 'accounts', description: 'Signup, your own account and your sessions' },
        { name: 'admin', description: 'User management (scope admin)' },
        { name: 'oauth-clients', description: 'OAuth client registration and management (scope admin)' },
        { name: 'posts', description: 'The blog: posts, tags, favourites, authors and follows' },
        { name: 'comments', description: 'Comments on published posts, and their moderation' },
        { name: 'meta', description: 'Health, readiness and metrics' },
        ...(options.realworld
          ? [
              {
                name: 'realworld',
                description:
                  'The RealWorld ("Conduit") API (REALWORLD_API=on): the blog under the names its front ends use, with its own tokens (`Authorization: Token <jwt>`)',
              },
            ]
          : []),
        {
          name: 'pages',
          description:
            'HTML for people: the reader site (posts, tags, authors, Atom feeds, sitemap), the sign-in and consent pages, and the pages that the links in messages open',
        },
      ],
      components: {
        securitySchemes: {
          ...(options.realworld && {
            [REALWORLD_SCHEME]: {
              type: 'apiKey',
              in: 'header',
              name: 'Authorization',
              description:
                '`Token <jwt>` (or `Bearer`), the `token` of POST /api/users or POST /api/users/login: a session of the client `realworld` (listed, revocable), taken under /api only.',
            },
          }),
          [SECURITY_SCHEME]: {
            type: 'oauth2',
            description:
              'No account yet? Sign up with POST /users first (Try it out). Then click Authorize: the authorization ' +
              'code flow (with PKCE) opens inkgate’s own sign-in page. The first-party client id is filled in and ' +
              'there is no client secret. ' +
              (options.passwordGrant
                ? 'The password flow (first-party client only) is for this API’s own front ends and tools. '
                : '') +
              'Access tokens are short-lived JWTs (RFC 9068) issued and checked as RFC8725 (JWT best current ' +
              'practices) asks; the refresh token that comes with them rotates on every use. ' +
              'A personal access token (`ink_pat_…`, made with POST /users/me/tokens) is sent the same way, as ' +
              '`Authorization: Bearer`, and carries the scopes it was made with.',
            flows: {
              authorizationCode: {
                authorizationUrl: '/authorize',
                tokenUrl: '/token',
                refreshUrl: '/token',
                scopes: { ...SCOPE_DESCRIPTIONS },
              },
              ...(options.passwordGrant && {
                password: { tokenUrl: '/token', refreshUrl: '/token', scopes: { ...SCOPE_DESCRIPTIONS } },
              }),
            },
          },
        },
      },
    },
    // Every 429 and 503 says when to retry; limited routes (the hook limitRoute made) document their
    // RateLimit headers, read from the route itself so the document cannot forget one.
    transformObject: (documentObject) => {
      if (!('openapiObject' in documentObject)) return documentObject.swaggerObject;
      const document = documentObject.openapiObject as { paths?: Operations };
      for (const [path, operations] of Object.entries(document.paths ?? {})) {
        for (const [method, operation] of Object.entries(operations)) {
          const responses = operation.responses ?? {};
          for (const status of ['429', '503']) {
            const response = responses[status];
            if (response) response.headers = { ...response.headers, 'Retry-After': RETRY_AFTER };
          }
          const limit = limited.get(`${method} ${path}`);
          if (limit) documentLimit(responses, limit);
        }
      }
      return document;
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    // Every operation gets a stable operationId from its method and path, and a route that declares
    // no security says so (`security: []`): a public operation, not one that forgot its requirement.
    transform: ({ schema, url, route }) => {
      if (!schema) return { schema, url };
      const method = String(Array.isArray(route.method) ? route.method[0] : route.method).toLowerCase();
      const limit = limitOf(route.preHandler);
      if (limit) limited.set(`${method} ${openApiPath(url)}`, limit);
      return {
        schema: {
          ...schema,
          operationId: schema.operationId ?? operationIdOf(method, url),
          security: schema.security ?? [],
        },
        url,
      };
    },
  });

  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true, persistAuthorization: false, validatorUrl: null, layout: 'BaseLayout' },
    // The Authorize dialog logs in as the first-party client: its id filled in, no secret to give,
    // so the secret field and the choice of where to send it are hidden.
    // The code flow with PKCE (S256), as every client must; the first-party client has no secret.
    initOAuth: { clientId: options.clientId, usePkceWithAuthorizationCodeGrant: true },
    theme: {
      // The document's address under the title is /openapi.json, the one clients should use (the
      // plugin serves the same document at /docs/json and names that one).
      js: [
        {
          filename: 'inkgate.js',
          content:
            'new MutationObserver(function () {\n' +
            "  document.querySelectorAll('.info a.link, .info .url').forEach(function (link) {\n" +
            "    if (!/\\/docs\\/json$/.test(link.textContent || '')) return;\n" +
            "    link.textContent = new URL('/openapi.json', location.href).href;\n" +
            "    if (link.href) link.href = '/openapi.json';\n" +
            '  });\n' +
            '}).observe(document.documentElement, { childList: true, subtree: true });\n',
        },
      ],
      css: [
        {
          filename: 'inkgate.css',
          content:
            '.auth-container .wrapper:has(> section > #client_secret_password),\n' +
            '.auth-container .wrapper:has(> section > #client_secret_authorizationCode),\n' +
            '.auth-container .wrapper:has(> section > #password_type) { display: none; }\n' +
            // Swagger UI keeps one authorization state per scheme, not per flow (swagger-ui#3983): with
            // the code flow beside it, its password form does nothing. The dialog offers the code flow;
            // the document keeps the password flow for other tools.
            '.auth-container:has(#oauth_username) { display: none; }\n',
        },
      ],
    },
    // A policy of our own for the UI's pages: scripts only from this server, nothing from elsewhere.
    // Styles may be inline: Swagger UI's syntax highlighter colours responses with style attributes.
    staticCSP: {
      'default-src': "'self'",
      'base-uri': "'self'",
      'connect-src': "'self'",
      'font-src': ["'self'", 'data:'],
      'form-action': "'self'",
      'frame-ancestors': "'none'",
      'img-src': ["'self'", 'data:'],
      'object-src': "'none'",
      'script-src': "'self'",
      'script-src-attr': "'none'",
      'style-src': ["'self'", "'unsafe-inline'"],
    },
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
