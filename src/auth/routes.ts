import formbody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError } from 'fastify';
import { Type } from 'typebox';
import { classifyError } from '../http/error-handler.ts';
import type { LoginService } from './login.ts';
import { OAuthError, OAuthErrorBody } from './oauth-error.ts';

const TokenRequest = Type.Object(
  {
    grant_type: Type.Optional(
      Type.String({
        description: '`password`; taken as `password` when absent and username and password are sent',
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
    client_id: Type.Optional(Type.String({ maxLength: 200, description: 'accepted and ignored' })),
  },
  // RFC 6749 §3.2: the token endpoint ignores parameters it does not know.
  { additionalProperties: true },
);

const TokenResponse = Type.Object(
  {
    access_token: Type.String({ description: 'a JWT (RFC 9068), valid for expires_in seconds' }),
    token_type: Type.Literal('bearer'),
    expires_in: Type.Integer({ examples: [900] }),
    scope: Type.String({ examples: ['profile posts:write'] }),
  },
  { description: 'Logged in (RFC 6749 §5.1); not cacheable' },
);

function oauthResponse(description: string) {
  return { description, content: { 'application/json': { schema: OAuthErrorBody } } };
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

export const tokenRoutes: FastifyPluginAsyncTypebox<{ login: LoginService }> = async (app, { login }) => {
  // RFC 6749 §3.2: the token endpoint takes form-encoded bodies only; JSON is refused in this scope.
  app.removeContentTypeParser('application/json');
  await app.register(formbody, { bodyLimit: 65_536 });

  // RFC 6749 §5.1: token answers, and errors too, must not be cached.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  });

  app.setErrorHandler((error, request, reply) => {
    const oauth = toOAuthError(error);
    if (!oauth) {
      const answer = classifyError(error);
      if (answer.status >= 500 && answer.status !== 503)
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
        summary: 'Log in (OAuth 2.0 password grant)',
        description:
          'RFC 6749 §4.3. For first-party clients (this API’s own front ends and Swagger UI) only: RFC 9700 §2.4 advises ' +
          'third parties against the password grant. A wrong username, a wrong password and a disabled account get the ' +
          'same answer. Repeated failures are throttled with 429 and Retry-After.',
        consumes: ['application/x-www-form-urlencoded'],
        body: TokenRequest,
        response: {
          200: TokenResponse,
          400: oauthResponse(
            'RFC 6749 §5.2 error: invalid_request, invalid_grant, unsupported_grant_type or invalid_scope',
          ),
          429: oauthResponse('Too many failed logins (error slow_down); see Retry-After'),
        },
      },
    },
    async (request) => {
      const body = request.body ?? {};
      const grantType =
        body.grant_type ??
        (body.username !== undefined && body.password !== undefined ? 'password' : undefined);
      if (grantType === undefined || grantType === '')
        throw new OAuthError('invalid_request', 'grant_type is required');
      if (grantType !== 'password') {
        throw new OAuthError(
          'unsupported_grant_type',
          `grant_type ${grantType.slice(0, 40)} is not supported`,
        );
      }
      if (!body.username) throw new OAuthError('invalid_request', 'username is required');
      if (body.password === undefined || body.password === '')
        throw new OAuthError('invalid_request', 'password is required');
      return login.passwordGrant({
        username: body.username,
        password: body.password,
        scope: body.scope,
        address: request.ip,
        log: request.log,
      });
    },
  );
};
