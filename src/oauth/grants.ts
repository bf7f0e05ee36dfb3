import type { FastifyBaseLogger } from 'fastify';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { hasSecondFactor } from '../authz/mfa-policy.ts';
import { grantScopes, parseScopeParameter, type Scope, UnknownScopeError } from '../authz/scopes.ts';
import type { Metrics } from '../http/metrics.ts';
import { LoginRefusedError } from '../login/errors.ts';
import type { LoginService } from '../login/service.ts';
import { RefreshRefusedError } from '../sessions/errors.ts';
import type { SessionsService, TokenAnswer } from '../sessions/service.ts';
import { type CallingClient, callingClient } from './client-auth.ts';
import type { ClientsService } from './clients/service.ts';
import type { createCodeGrant } from './code-grant.ts';
import { OAuthError } from './errors.ts';

export type TokenEndpoint = ReturnType<typeof createTokenEndpoint>;

/** The grants of POST /token (RFC 6749 §4.3, §6), over the login rules and the sessions. */
export function createTokenEndpoint(deps: {
  login: LoginService;
  sessions: SessionsService;
  clients: ClientsService;
  codeGrant: ReturnType<typeof createCodeGrant>;
  audit: AuditTrail;
  metrics: Metrics | undefined;
  firstPartyClientId: string;
  /** PASSWORD_GRANT: off removes the password grant (RFC 9700 §2.4). */
  passwordGrant: boolean;
}) {
  const { sessions, audit, metrics } = deps;

  function requestedScopes(scope: string | undefined): Scope[] | undefined {
    try {
      return parseScopeParameter(scope);
    } catch (error) {
      if (error instanceof UnknownScopeError) throw new OAuthError('invalid_scope', error.message);
      throw error;
    }
  }

  /**
   * RFC 6749 §4.3: the resource owner password credentials grant. Answers the token pair and, for a
   * browser without a good one, a device cookie (set by the route).
   */
  async function passwordGrant(
    form: TokenForm,
    context: GrantContext,
    calling: CallingClient,
  ): Promise<{ answer: TokenAnswer; deviceCookie?: string | undefined }> {
    // RFC 9700 §2.4: the password grant is for the first-party client only; no third party ever
    // handles a user's password.
    if (calling.client.client_id !== deps.firstPartyClientId) {
      throw new OAuthError('unauthorized_client', 'the password grant is for the first-party client only');
    }
    if (!form.username) throw new OAuthError('invalid_request', 'username is required');
    if (form.password === undefined || form.password === '')
      throw new OAuthError('invalid_request', 'password is required');
    const requested = requestedScopes(form.scope);
    const { facts, log } = context;
    const login = await deps.login.verifyCredentials({
      ...context,
      username: form.username,
      password: form.password,
    });
    const { user } = login;
    // API.md: the password grant cannot give a second factor; after a right password it says where to go.
    if (hasSecondFactor(user)) {
      await login.abandoned();
      throw new OAuthError(
        'invalid_grant',
        'this account has a second factor: sign in through the authorization code flow (/authorize)',
      );
    }
    const scopes = grantScopes(user.role, requested);
    if (!scopes) {
      await login.abandoned();
      throw new OAuthError('invalid_scope', 'the requested scope is more than this account may have');
    }
    // The session stands only if, when it is written, the account is still enabled, still has the
    // password just verified, and nothing ended its sessions since this login read it (API.md).
    const answer = await sessions.start({
      user,
      scopes,
      userAgent: facts.userAgent ?? '',
      ip: facts.ip ?? '',
      verified: { passwordHash: user.password_hash, sessionsEpoch: Number(user.sessions_epoch) },
      details: { seen_before: login.seenBefore },
    });
    if (!answer) {
      metrics?.logins.inc({ result: 'failure' });
      await login.abandoned();
      audit.later('login_failed', { ...facts, userId: user.id, details: { reason: 'superseded' } }, log);
      throw LoginRefusedError.badCredentials();
    }
    return { answer, ...(await login.succeeded()) };
  }

  /** RFC 6749 §6: a refresh token for a new pair (rotation and reuse detection are the sessions'). */
  async function refreshGrant(
    form: TokenForm,
    context: GrantContext,
    calling: CallingClient,
  ): Promise<{ answer: TokenAnswer }> {
    if (!form.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required');
    const answer = await sessions.refresh({
      refreshToken: form.refresh_token,
      scope: form.scope,
      clientId: calling.client.client_id,
      facts: context.facts,
      log: context.log,
    });
    return { answer };
  }

  /** The grants /token serves, by grant_type: the one place a new grant is added. */
  const GRANTS: Record<
    string,
    (form: TokenForm, context: GrantContext, calling: CallingClient) => Promise<GrantResult>
  > = {
    ...(deps.passwordGrant && { password: passwordGrant }),
    refresh_token: refreshGrant,
    authorization_code: async (form, context, calling) => ({
      answer: await deps.codeGrant(form, calling, context),
    }),
  };

  /**
   * POST /token. A missing grant_type with username and password is the password grant (what
   * FastAPI's OAuth2PasswordRequestForm clients send).
   */
  async function token(form: TokenForm, context: GrantContext): Promise<GrantResult> {
    const grantType =
      form.grant_type ??
      (deps.passwordGrant && form.username !== undefined && form.password !== undefined
        ? 'password'
        : undefined);
    if (grantType === undefined || grantType === '')
      throw new OAuthError('invalid_request', 'grant_type is required');
    const grant = Object.hasOwn(GRANTS, grantType) ? GRANTS[grantType] : undefined;
    if (!grant) {
      throw new OAuthError('unsupported_grant_type', `grant_type ${grantType.slice(0, 40)} is not supported`);
    }
    const calling = await callingClient(deps.clients, deps.firstPartyClientId, {
      authorization: context.authorization,
      clientId: form.client_id,
      clientSecret: form.client_secret,
    });
    try {
      return await grant(form, context, calling);
    } catch (error) {
      if (error instanceof LoginRefusedError) throw oauthErrorOf(error);
      if (error instanceof RefreshRefusedError) throw new OAuthError(error.reason, error.message);
      throw error;
    }
  }

  /**
   * RFC 7009: either token of a session ends it — a session of the calling client only (a confidential
   * client authenticated); anything else is quietly nothing (200).
   */
  async function revoke(
    form: {
      token?: string | undefined;
      token_type_hint?: string | undefined;
      client_id?: string | undefined;
      client_secret?: string | undefined;
    },
    context: { authorization: string | undefined; facts: AuditFacts },
  ): Promise<void> {
    if (!form.token) throw new OAuthError('invalid_request', 'token is required');
    const calling = await callingClient(deps.clients, deps.firstPartyClientId, {
      authorization: context.authorization,
      clientId: form.client_id,
      clientSecret: form.client_secret,
    });
    await sessions.revokeToken(form.token, form.token_type_hint, context.facts, calling.client.client_id);
  }

  return { token, revoke };
}

/** The fields of a /token request (RFC 6749 §4.3.2, §6), as the route validated them. */
export interface TokenForm {
  readonly grant_type?: string | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly refresh_token?: string | undefined;
  readonly scope?: string | undefined;
  readonly client_id?: string | undefined;
  readonly client_secret?: string | undefined;
  readonly code?: string | undefined;
  readonly code_verifier?: string | undefined;
  readonly redirect_uri?: string | undefined;
}

/** Where a token request came from. */
export interface GrantContext {
  /** Canonical (http/client-address.ts): what the limits and the remembered addresses key on. */
  readonly address: string;
  readonly facts: AuditFacts;
  readonly deviceCookie: string | undefined;
  readonly log: FastifyBaseLogger;
  /** The Authorization header: a confidential client's HTTP Basic (RFC 6749 §2.3.1). */
  readonly authorization: string | undefined;
}

export interface GrantResult {
  readonly answer: TokenAnswer;
  /** A device cookie to set (the password grant, for a browser without a good one). */
  readonly deviceCookie?: string | undefined;
}

/** A refused login as RFC 6749 §5.2 words it (slow_down, RFC 8628 §3.5, with Retry-After: API.md). */
function oauthErrorOf(error: LoginRefusedError): OAuthError {
  if (error.reason === 'bad_credentials') return new OAuthError('invalid_grant', error.message);
  return new OAuthError('slow_down', error.message, {
    status: 429,
    headers: { 'retry-after': String(error.retryAfterSeconds ?? 1) },
  });
}
