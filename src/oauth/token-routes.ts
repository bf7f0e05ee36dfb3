import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError } from 'fastify';
import { requestFacts } from '../audit/events.ts';
import { DAY_MS } from '../clock.ts';
import { canonicalAddress } from '../http/client-address.ts';
import { classifyError } from '../http/error-handler.ts';
import { Type } from '../http/json-schema.ts';
import { BODY_LIMIT } from '../http/server.ts';
import { KeyEncryptionError } from '../keys/key-encryption.ts';
import { DEVICE_COOKIE, DEVICE_TRUST_DAYS } from '../login/devices.ts';
import { OAuthError } from './errors.ts';
import type { TokenEndpoint } from './grants.ts';

const TokenRequest = Type.Object(
  {
    grant_type: Type.Optional(
      Type.String({
        maxLength: 100,
        description:
          '`authorization_code`, `refresh_token` or `password` (first-party client only); taken as `password` when absent and username and password are sent',
        examples: ['password'],
      }),
    ),
    username: Type.Optional(
      Type.String({ maxLength: 254, description: 'username or email address', examples: ['ada'] }),
    ),
    password: Type.Optional(Type.String({ maxLength: 4096, examples: ['correct horse battery staple'] })),
    scope: Type.Optional(
      Type.String({
        maxLength: 200,
        description: 'space-separated; absent or empty means all the role allows',
        examples: ['profile posts:write'],
      }),
    ),
    refresh_token: Type.Optional(
      // RFC 6749 §5.2: whatever is sent that is not a live refresh token of ours is invalid_grant,
      // an access token or a long string included: the body limit is the only bound.
      Type.String({ maxLength: BODY_LIMIT, description: 'for grant_type=refresh_token' }),
    ),
    client_id: Type.Optional(
      Type.String({
        maxLength: 200,
        description:
          'the client (RFC 6749 §3.2.1): a public client names itself; none named is the first-party client',
      }),
    ),
    client_secret: Type.Optional(
      Type.String({
        maxLength: 200,
        description: 'client_secret_post; or send HTTP Basic (client_secret_basic)',
      }),
    ),
    code: Type.Optional(Type.String({ maxLength: 200, description: 'for grant_type=authorization_code' })),
    code_verifier: Type.Optional(
      Type.String({ maxLength: 200, description: 'the PKCE verifier (RFC 7636) of the code’s challenge' }),
    ),
    redirect_uri: Type.Optional(
      Type.String({
        maxLength: 2000,
        description: 'optional; when sent, the one the authorization request used',
      }),
    ),
  },
  // RFC 6749 §3.2: the token endpoint ignores parameters it does not know.
  { additionalProperties: true },
);

const TokenResponse = Type.Object(
  {
    access_token: Type.String({ description: 'a JWT (RFC 9068), valid for expires_in seconds' }),
    token_type: Type.Literal('bearer'),
    expires_in: Type.Integer({ examples: [900] }),
    refresh_token: Type.String({
      description:
        'opaque, single use: each refresh answers a new one (a spent one presented again ends the session)',
    }),
    scope: Type.String({ examples: ['profile posts:write'] }),
  },
  { description: 'Logged in (RFC 6749 §5.1); not cacheable' },
);

function oauthResponse(description: string) {
  return { description, content: { 'application/json': { schema: { $ref: 'OAuthError#' } } } };
}

/** Any failure on the token endpoint → an RFC 6749 §5.2 error, never a problem document. */
function toOAuthError(error: unknown): OAuthError | undefined {
  if (error instanceof OAuthError) return error;
  const answer = classifyError(error);
  if (answer.status >= 500) return undefined;
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  if (answer.status === 413) return new OAuthError('invalid_request', answer.detail, { status: 413 });
  const first = answer.errors?.[0];
  // RFC 6749 §3.2: a parameter sent twice arrives as an array and fails the string type.
  return new OAuthError(
    'invalid_request',
    first ? `parameter ${first.path.slice(1)} ${first.message}` : answer.detail,
  );
}

const RevokeRequest = Type.Object(
  {
    token: Type.Optional(
      Type.String({
        maxLength: BODY_LIMIT,
        description: 'an access token or a refresh token, any length up to the body limit',
      }),
    ),
    token_type_hint: Type.Optional(Type.String({ maxLength: 40, examples: ['refresh_token'] })),
    client_id: Type.Optional(
      Type.String({
        maxLength: 200,
        description: 'the client whose token it is; none named is the first-party client',
      }),
    ),
    client_secret: Type.Optional(
      Type.String({ maxLength: 200, description: 'a confidential client’s (or HTTP Basic)' }),
    ),
  },
  { additionalProperties: true },
);

export const tokenRoutes: FastifyPluginAsyncTypebox<{
  endpoint: TokenEndpoint;
}> = async (app, { endpoint }) => {
  // RFC 6749 §3.2: the token endpoint takes form-encoded bodies only; JSON is refused in this scope.
  app.removeContentTypeParser('application/json');
  await app.register(formbody, { bodyLimit: BODY_LIMIT });
  // The signed device cookie of the password grant (API.md "No lockout"); this scope only.
  await app.register(cookie);

  // RFC 6749 §5.1: token answers, and errors too, must not be cached.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  });

  app.setErrorHandler((error, request, reply) => {
    const oauth = toOAuthError(error);
    if (!oauth) {
      const answer = classifyError(error);
      // A 503 of an outage is the database's to tell; keys that do not open are the operator's.
      if (error instanceof KeyEncryptionError) request.log.error({ reason: error.reason }, error.reason);
      else if (answer.status >= 500 && answer.status !== 503)
        request.log.error({ err: error }, 'token request failed');
      return reply
        .code(answer.status)
        .headers(answer.headers)
        .send({ error: 'server_error', error_description: answer.detail });
    }
    return reply
      .code(oauth.status)
      .headers(oauth.headers)
      .send({ error: oauth.error, error_description: oauth.message });
  });

  app.post(
    '/token',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in (password grant) or refresh (refresh_token grant)',
        description:
          'RFC 6749 §4.3 and §6. The password grant is for first-party clients (this API’s own front ends and Swagger ' +
          'UI) only: RFC 9700 §2.4 advises third parties against it. A wrong username, a wrong password and a disabled ' +
          'account get the same answer; repeated failures are throttled with 429 and Retry-After. Each login is a ' +
          'session; each refresh spends the refresh token and answers a new one. A spent refresh token presented ' +
          'again more than 10 s later ends the session (theft detection); within 10 s (a retry) it gets the same ' +
          'successor.',
        consumes: ['application/x-www-form-urlencoded'],
        body: TokenRequest,
        response: {
          200: TokenResponse,
          400: oauthResponse(
            'RFC 6749 §5.2 error: invalid_request, invalid_grant (bad credentials, or an invalid, expired, revoked or spent refresh token), unsupported_grant_type or invalid_scope',
          ),
          401: oauthResponse(
            'invalid_client: an unknown client, or a confidential one that did not authenticate (WWW-Authenticate: Basic when Basic was tried)',
          ),
          429: oauthResponse('Too many failed logins (error slow_down); see Retry-After'),
        },
      },
    },
    async (request, reply) => {
      const { answer, deviceCookie } = await endpoint.token(request.body ?? {}, {
        address: canonicalAddress(request.ip),
        facts: requestFacts(request),
        deviceCookie: request.cookies[DEVICE_COOKIE],
        log: request.log,
        authorization: request.headers.authorization,
      });
      // A browser that logged in keeps its own throttle bucket for 30 days: strangers' failures
      // elsewhere never lock it out. Sent only back to /token, never readable by scripts.
      if (deviceCookie !== undefined) {
        reply.setCookie(DEVICE_COOKIE, deviceCookie, {
          httpOnly: true,
          secure: true,
          sameSite: 'strict',
          path: '/token',
          maxAge: (DEVICE_TRUST_DAYS * DAY_MS) / 1000,
        });
      }
      return answer;
    },
  );

  app.post(
    '/token/revoke',
    {
      schema: {
        tags: ['auth'],
        summary: 'Revoke a token (RFC 7009): its whole session ends',
        description:
          'Either token of a session ends the session: its refresh token and every access token with its `sid`. ' +
          'Answers 200 for unknown or already revoked tokens too.',
        consumes: ['application/x-www-form-urlencoded'],
        body: RevokeRequest,
        response: {
          200: Type.Unsafe<undefined>({ description: 'Revoked, or nothing to revoke; an empty body' }),
          400: oauthResponse('RFC 6749 §5.2 error: invalid_request'),
          401: oauthResponse(
            'invalid_client: an unknown client, or a confidential one that did not authenticate',
          ),
        },
      },
    },
    async (request, reply) => {
      await endpoint.revoke(request.body ?? {}, {
        authorization: request.headers.authorization,
        facts: requestFacts(request),
      });
      return reply.code(200).send();
    },
  );
};
