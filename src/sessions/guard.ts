import type { FastifyRequest } from 'fastify';
import { ACR_MFA } from '../authz/authentication.ts';
import { hasSecondFactor, mfaRequiredFor } from '../authz/mfa-policy.ts';
import type { OptionalAuth, Principal, RequireAuth, StepUp } from '../authz/principal.ts';
import { type Scope, scopesForRole, scopesWhileUnverified } from '../authz/scopes.ts';
import type { Clock } from '../clock.ts';
import { HttpError } from '../http/errors.ts';
import type { AccessTokens, VerifiedAccessToken } from './access-tokens.ts';
import { InvalidTokenError } from './access-tokens.ts';
import type { SessionCache, SessionState } from './cache.ts';

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

/** One 401 per refused token error, made once: a token refused again costs no new error object. */
const refusals = new WeakMap<InvalidTokenError, HttpError>();
function refusalFor(error: InvalidTokenError): HttpError {
  let refusal = refusals.get(error);
  if (!refusal) {
    refusal = invalidToken(error.message, error.cause);
    refusals.set(error, refusal);
  }
  return refusal;
}

/**
 * RFC 9470 §3: the token is good but its sign-in is not strong (or recent) enough: the client sends
 * the user through /authorize again with these acr_values (and max_age).
 */
function insufficientUserAuthentication(description: string, maxAgeSeconds?: number): HttpError {
  const maxAge = maxAgeSeconds === undefined ? '' : `, max_age=${maxAgeSeconds}`;
  return new HttpError(401, 'insufficient_user_authentication', description, {
    headers: {
      'www-authenticate': `Bearer realm="${REALM}", error="insufficient_user_authentication", error_description="${description}", acr_values="${ACR_MFA}"${maxAge}`,
    },
  });
}

function insufficientScope(scopes: readonly Scope[]): HttpError {
  const needed = scopes.join(' ');
  return new HttpError(403, 'insufficient_scope', `this request needs the scope: ${needed}`, {
    headers: { 'www-authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${needed}"` },
  });
}

/**
 * requireAuth(...scopes) is declared on each protected route (never by URL prefix): it verifies the
 * bearer token in memory, asks the session cache whether its session still stands and what the
 * user's role is now, and checks that the token carries every listed scope that role allows.
 */
export function createGuard(deps: {
  tokens: AccessTokens;
  sessions: SessionCache;
  clock: Clock;
  /** EMAIL_VERIFICATION=required: an unverified address leaves a token only `profile`. */
  verificationRequired: boolean;
  /**
   * Personal access tokens (personal-tokens/): their prefix, and the session-cache key of a token
   * of that form (undefined when it is malformed). Their entries live in the same cache, so every
   * revocation reaches them within the same bound.
   */
  personalTokens?: { readonly prefix: string; keyOf(token: string): string | undefined };
  /** MFA_REQUIRED: a covered user without a second factor gets `profile` only, until they enrol. */
  mfaRequired?: 'off' | 'admin' | 'all';
  /** STEP_UP_MAX_AGE: how recent a two-factor sign-in the step-up routes need. */
  stepUpMaxAgeSeconds?: number;
  /** The Authorization schemes taken (lower case): `bearer`; the RealWorld API's also `token`. */
  schemes?: readonly string[];
}): {
  requireAuth: RequireAuth;
  optionalAuth: OptionalAuth;
  /** After requireAuth on a step-up route (API.md): a user with a second factor needs a recent acr mfa sign-in. */
  stepUp: StepUp;
} {
  const { tokens, sessions, clock, verificationRequired, personalTokens } = deps;
  const mfaRequired = deps.mfaRequired ?? 'off';
  const stepUpMaxAgeSeconds = deps.stepUpMaxAgeSeconds ?? 600;
  const schemes = deps.schemes ?? ['bearer'];

  /** Whether the session (or personal token) still stands, and its user may still act. */
  const stands = (session: SessionState | undefined, userId?: string): session is SessionState =>
    session !== undefined &&
    !session.revoked &&
    !session.disabled &&
    (userId === undefined || session.userId === userId) &&
    clock.now() < session.liveUntil;

  /**
   * The account now, not when the token was issued: a demotion (ASVS 8.3.2) and, with
   * EMAIL_VERIFICATION=required, an address that became unverified apply to live tokens at once.
   */
  function scopesNow(session: SessionState, granted: readonly Scope[]): readonly Scope[] {
    const allowed = scopesForRole(session.role);
    const scopes = granted.filter((scope) => allowed.includes(scope));
    // Until the address is confirmed (EMAIL_VERIFICATION=required), or a second factor enrolled by a
    // user MFA_REQUIRED covers, a token carries `profile` only: enough to do just that.
    const restricted =
      (verificationRequired && !session.account.email_verified) ||
      (mfaRequiredFor(mfaRequired, session.role) && !hasSecondFactor(session.account));
    return restricted ? scopesWhileUnverified(scopes) : scopes;
  }

  /** A personal access token: looked up by its hash through the session cache, never signed. */
  async function authenticatePersonal(key: string | undefined): Promise<Principal> {
    if (key === undefined) throw invalidToken('the token is malformed');
    const session = await sessions.get(key);
    if (!stands(session) || !session.personal) throw invalidToken('the token is not valid or has ended');
    return {
      credential: 'personal_token',
      userId: session.userId,
      username: session.account.username,
      role: session.role,
      scopes: scopesNow(session, session.personal.scopes),
      sessionId: session.personal.id,
      tokenId: session.personal.id,
      issuedAt: session.personal.createdAt,
      expiresAt: session.liveUntil,
      account: session.account,
    };
  }

  async function authenticate(request: FastifyRequest): Promise<Principal> {
    const header = request.headers.authorization;
    if (header === undefined || header.trim() === '')
      throw missingCredentials('this request needs a bearer token');
    const match = /^(\S+)(?:\s+(.*))?$/.exec(header.trim());
    const scheme = match?.[1] ?? '';
    if (!schemes.includes(scheme.toLowerCase()))
      throw missingCredentials('only the Bearer authentication scheme is accepted');
    const token = match?.[2]?.trim() ?? '';
    // RFC 6750 §2.1 b64token; anything else cannot be one of our tokens.
    if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) throw invalidToken('the token is malformed');
    if (personalTokens && token.startsWith(personalTokens.prefix))
      return authenticatePersonal(personalTokens.keyOf(token));
    let verified: VerifiedAccessToken;
    try {
      verified = await tokens.verify(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw refusalFor(error);
      throw error;
    }
    // Signature and claims are checked in memory; whether the login still stands comes from the
    // session cache (no database round trip while its entry is fresh).
    const session = await sessions.get(verified.sessionId);
    // A personal token's entry is never a session, whatever `sid` a token names.
    if (!stands(session, verified.userId) || session.personal) throw invalidToken('the session has ended');
    return {
      ...verified,
      credential: 'access_token',
      role: session.role,
      scopes: scopesNow(session, verified.scopes),
      account: session.account,
    };
  }

  const requireAuth: RequireAuth =
    (...scopes) =>
    async (request) => {
      const principal = await authenticate(request);
      const missing = scopes.filter((scope) => !principal.scopes.includes(scope));
      if (missing.length > 0) throw insufficientScope(scopes);
      // Every admin route needs a two-factor sign-in from an admin who has a second factor.
      if (
        scopes.includes('admin') &&
        principal.account !== undefined &&
        hasSecondFactor(principal.account) &&
        principal.acr !== ACR_MFA
      )
        throw insufficientUserAuthentication('admin routes need a two-factor sign-in');
      request.principal = principal;
    };

  /** RFC 9470: for a user with a second factor, an acr mfa sign-in within STEP_UP_MAX_AGE. */
  function stepUp(request: FastifyRequest): void {
    const principal = request.principal;
    if (!principal?.account || !hasSecondFactor(principal.account)) return;
    const recent =
      principal.authTime !== undefined &&
      clock.now().getTime() - principal.authTime.getTime() <= stepUpMaxAgeSeconds * 1000;
    if (principal.acr !== ACR_MFA || !recent)
      throw insufficientUserAuthentication(
        'this needs a two-factor sign-in from the last minutes',
        stepUpMaxAgeSeconds,
      );
  }

  const optionalAuth: OptionalAuth = async (request) => {
    if (request.headers.authorization === undefined) return;
    request.principal = await authenticate(request);
  };

  return {
    requireAuth,
    optionalAuth,
    stepUp: {
      required: async (request) => stepUp(request),
      when: (applies) => async (request) => {
        if (applies(request)) stepUp(request);
      },
    },
  };
}
