import type { FastifyBaseLogger } from 'fastify';
import type { Hasher } from '../accounts/hash-queue.ts';
import type { UsersRepository } from '../accounts/repository.ts';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { grantScopes, parseScopeParameter, type Scope, UnknownScopeError } from '../authz/scopes.ts';
import type { Clock } from '../clock.ts';
import type { Metrics } from '../http/metrics.ts';
import type { SessionsService, TokenAnswer } from '../sessions/service.ts';
import { OAuthError } from '../tokens/oauth-error.ts';
import type { Devices } from './devices.ts';
import type { LoginThrottle } from './throttle.ts';

/** One answer for an unknown login, a wrong password and a disabled account: no user enumeration. */
const BAD_CREDENTIALS = 'invalid username or password';

export type LoginService = ReturnType<typeof createLoginService>;

export function createLoginService(deps: {
  users: UsersRepository;
  sessions: SessionsService;
  throttle: LoginThrottle;
  devices: Devices;
  hasher: Hasher;
  audit: AuditTrail;
  clock: Clock;
  metrics: Metrics | undefined;
}) {
  const { users, sessions, throttle, devices, hasher, audit, clock, metrics } = deps;

  function requestedScopes(scope: string | undefined): Scope[] | undefined {
    try {
      return parseScopeParameter(scope);
    } catch (error) {
      if (error instanceof UnknownScopeError) throw new OAuthError('invalid_scope', error.message);
      throw error;
    }
  }

  /**
   * The owner's own bucket, when this address or browser has seen the owner log in lately (a
   * remembered address, or a device cookie this server signed for this user); else undefined.
   */
  async function trustedBucket(
    userId: string | undefined,
    address: string,
    deviceCookie: string | undefined,
  ) {
    const device = await devices.verifyCookie(deviceCookie, userId);
    if (device !== undefined) return `device:${device}`;
    // Asked for unknown logins too, so that a known and an unknown name cost the same queries.
    return (await devices.isKnownAddress(userId, address)) ? `address:${address}` : undefined;
  }

  /**
   * RFC 6749 §4.3: the resource owner password credentials grant. Answers the token pair and a fresh
   * device cookie for the browser (set by the route).
   */
  async function passwordGrant(input: {
    username: string;
    password: string;
    scope: string | undefined;
    /** Canonical (http/client-address.ts): what the limits and the remembered addresses key on. */
    address: string;
    /** The address as the request came and its user agent: kept on the session and its events. */
    facts: AuditFacts;
    deviceCookie: string | undefined;
    log: FastifyBaseLogger;
  }): Promise<{ answer: TokenAnswer; deviceCookie: string }> {
    const { log, facts } = input;
    const requested = requestedScopes(input.scope);
    const user = await users.findByLogin(input.username);
    const trusted = await trustedBucket(user?.id, input.address, input.deviceCookie);
    const attempt = await throttle.attempt({
      userId: user?.id,
      name: input.username,
      address: input.address,
      trusted,
    });
    if (!attempt.allowed) {
      metrics?.logins.inc({ result: 'throttled' });
      // At most one event per account (or unknown name) and address per minute: a flood of refused
      // attempts cannot flood the audit log. Nothing of an unknown name is kept.
      const minute = Math.floor(clock.now().getTime() / 60_000);
      audit.later(
        'login_throttled',
        {
          ...facts,
          userId: user?.id ?? null,
          details: { retry_after_seconds: attempt.retryAfterSeconds },
          collapseKey: `login_throttled:${user?.id ?? '-'}:${input.address}:${minute}`,
        },
        log,
      );
      throw new OAuthError('slow_down', 'too many failed logins; try again later', {
        status: 429,
        headers: { 'retry-after': String(attempt.retryAfterSeconds) },
      });
    }
    // Always verify a hash (a dummy one for an unknown login), and check `disabled` only afterwards,
    // so all three failures cost the same time.
    const passwordOk = user
      ? await hasher.verify(user.password_hash, input.password)
      : await hasher.verifyDummy(input.password);
    if (!user || !passwordOk || user.disabled) {
      metrics?.logins.inc({ result: 'failure' });
      // Recorded for known accounts only (API.md): of an unknown name, nothing typed is kept.
      if (user) {
        const reason = passwordOk ? 'account_disabled' : 'wrong_password';
        audit.later('login_failed', { ...facts, userId: user.id, details: { reason } }, log);
      } else {
        log.info({ ip: facts.ip }, 'login failed for an unknown account');
      }
      throw new OAuthError('invalid_grant', BAD_CREDENTIALS);
    }
    const scopes = grantScopes(user.role, requested);
    if (!scopes)
      throw new OAuthError('invalid_scope', 'the requested scope is more than this account may have');
    // The session stands only if, when it is written, the account is still enabled, still has the
    // password just verified, and nothing ended its sessions since this login read it (API.md).
    const answer = await sessions.start({
      user,
      scopes,
      userAgent: facts.userAgent ?? '',
      ip: facts.ip ?? '',
      verified: { passwordHash: user.password_hash, sessionsEpoch: Number(user.sessions_epoch) },
      // Whether this browser or address had seen the owner log in: a "new place" is what to look at.
      details: { seen_before: trusted?.split(':')[0] ?? 'no' },
    });
    if (!answer) {
      metrics?.logins.inc({ result: 'failure' });
      audit.later('login_failed', { ...facts, userId: user.id, details: { reason: 'superseded' } }, log);
      throw new OAuthError('invalid_grant', BAD_CREDENTIALS);
    }
    await attempt.succeeded();
    await devices.rememberAddress(user.id, input.address);
    metrics?.logins.inc({ result: 'success' });
    return { answer, deviceCookie: await devices.issueCookie(user.id) };
  }

  return { passwordGrant };
}
