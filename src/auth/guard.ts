import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { HttpError } from '../http/errors.ts';
import type { AccessTokens, VerifiedAccessToken } from './access-tokens.ts';
import { InvalidTokenError } from './access-tokens.ts';
import type { Scope } from './scopes.ts';

/** Who is calling: set on the request by the guard of every protected route. */
export type Principal = VerifiedAccessToken;

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const REALM = 'inkgate';

/** RFC 6750 §3: no credentials, or credentials of another scheme, get the bare challenge and no error code. */
function missingCredentials(detail: string): HttpError {
  return new HttpError(401, 'unauthenticated', detail, {
    headers: { 'www-authenticate': `Bearer realm="${REALM}"` },
  });
}

function invalidToken(description: string, cause?: unknown): HttpError {
  return new HttpError(401, 'invalid_token', description, {
    cause,
    headers: {
      'www-authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`,
    },
  });
}

function insufficientScope(scopes: readonly Scope[]): HttpError {
  const needed = scopes.join(' ');
  return new HttpError(403, 'insufficient_scope', `this request needs the scope: ${needed}`, {
    headers: { 'www-authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${needed}"` },
  });
}

export type RequireAuth = (...scopes: Scope[]) => preHandlerAsyncHookHandler;

/**
 * requireAuth(...scopes) is declared on each protected route (never by URL prefix): it verifies the
 * bearer token in memory and checks that the token carries every listed scope.
 */
export function createGuard(tokens: AccessTokens): {
  requireAuth: RequireAuth;
  authenticate: (request: FastifyRequest) => Promise<Principal>;
} {
  async function authenticate(request: FastifyRequest): Promise<Principal> {
    const header = request.headers.authorization;
    if (header === undefined || header.trim() === '')
      throw missingCredentials('this request needs a bearer token');
    const match = /^(\S+)(?:\s+(.*))?$/.exec(header.trim());
    const scheme = match?.[1] ?? '';
    if (scheme.toLowerCase() !== 'bearer')
      throw missingCredentials('only the Bearer authentication scheme is accepted');
    const token = match?.[2]?.trim() ?? '';
    // RFC 6750 §2.1 b64token; anything else cannot be one of our tokens.
    if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) throw invalidToken('the token is malformed');
    try {
      return await tokens.verify(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw invalidToken(error.message, error.cause);
      throw error;
    }
  }

  const requireAuth: RequireAuth =
    (...scopes) =>
    async (request) => {
      const principal = await authenticate(request);
      const missing = scopes.filter((scope) => !principal.scopes.includes(scope));
      if (missing.length > 0) throw insufficientScope(scopes);
      request.principal = principal;
    };

  return { requireAuth, authenticate };
}

/** The principal a guarded handler runs for; a route without requireAuth has none. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('principalOf() on a route without requireAuth');
  return request.principal;
}
