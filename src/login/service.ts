import type { FastifyBaseLogger } from 'fastify';
import { verifyDummyPassword, verifyPassword } from '../accounts/passwords.ts';
import type { UsersRepository } from '../accounts/repository.ts';
import { grantScopes, parseScopeParameter, type Scope, UnknownScopeError } from '../authz/scopes.ts';
import type { Metrics } from '../http/metrics.ts';
import type { SessionsService, TokenAnswer } from '../sessions/service.ts';
import { OAuthError } from '../tokens/oauth-error.ts';
import type { LoginThrottle } from './throttle.ts';

/** One answer for an unknown login, a wrong password and a disabled account: no user enumeration. */
const BAD_CREDENTIALS = 'invalid username or password';

export type LoginService = ReturnType<typeof createLoginService>;

export function createLoginService(deps: {
  users: UsersRepository;
  sessions: SessionsService;
  throttle: LoginThrottle;
  metrics: Metrics | undefined;
}) {
  const { users, sessions, throttle, metrics } = deps;

  function requestedScopes(scope: string | undefined): Scope[] | undefined {
    try {
      return parseScopeParameter(scope);
    } catch (error) {
      if (error instanceof UnknownScopeError) throw new OAuthError('invalid_scope', error.message);
      throw error;
    }
  }

  /** RFC 6749 §4.3: the resource owner password credentials grant. */
  async function passwordGrant(input: {
    username: string;
    password: string;
    scope: string | undefined;
    address: string;
    userAgent: string;
    log: FastifyBaseLogger;
  }): Promise<TokenAnswer> {
    const { log } = input;
    const requested = requestedScopes(input.scope);
    const user = await users.findByLogin(input.username);
    // Throttle by account id when the login names a user, so username and email share one count.
    const attempt = await throttle.attempt(
      user?.id ?? `login:${input.username.toLowerCase()}`,
      input.address,
    );
    if (!attempt.allowed) {
      metrics?.logins.inc({ result: 'throttled' });
      log.warn({ event: 'login_throttled', userId: user?.id, address: input.address }, 'login throttled');
      throw new OAuthError('slow_down', 'too many failed logins; try again later', {
        status: 429,
        headers: { 'retry-after': String(attempt.retryAfterSeconds) },
      });
    }
    // Always verify a hash (a dummy one for an unknown login), and check `disabled` only afterwards,
    // so all three failures cost the same time.
    const passwordOk = user
      ? await verifyPassword(user.password_hash, input.password)
      : await verifyDummyPassword(input.password);
    if (!user || !passwordOk || user.disabled) {
      metrics?.logins.inc({ result: 'failure' });
      log.info({ event: 'login_failed', userId: user?.id, address: input.address }, 'login failed');
      throw new OAuthError('invalid_grant', BAD_CREDENTIALS);
    }
    await attempt.succeeded();
    const scopes = grantScopes(user.role, requested);
    if (!scopes)
      throw new OAuthError('invalid_scope', 'the requested scope is more than this account may have');
    const answer = await sessions.start({ user, scopes, userAgent: input.userAgent, ip: input.address });
    metrics?.logins.inc({ result: 'success' });
    log.info({ event: 'login_succeeded', userId: user.id, address: input.address }, 'login succeeded');
    return answer;
  }

  return { passwordGrant };
}
