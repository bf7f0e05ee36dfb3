import type { FastifyBaseLogger } from 'fastify';
import { type Hasher, HashShareError } from '../accounts/hash-queue.ts';
import type { UsersRepository } from '../accounts/repository.ts';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { grantScopes, parseScopeParameter, type Scope, UnknownScopeError } from '../authz/scopes.ts';
import { type Clock, HOUR_MS } from '../clock.ts';
import type { UserRow } from '../db/schema.ts';
import type { Metrics } from '../http/metrics.ts';
import type { WindowCounter } from '../http/rate-limits.ts';
import type { SessionsService, TokenAnswer } from '../sessions/service.ts';
import { OAuthError } from '../tokens/oauth-error.ts';
import type { DeviceOwner, Devices } from './devices.ts';
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
  /** Counts successful logins per account (RATE_LIMIT_LOGINS an hour). */
  counter: WindowCounter;
  loginsPerHour: number;
}) {
  const { users, sessions, throttle, devices, hasher, audit, clock, metrics } = deps;
  const loginsKey = (userId: string) => `logins:${userId}`;

  const tooManyLogins = (ttlMs: number) =>
    slowDown(Math.max(1, Math.ceil(ttlMs / 1000)), 'too many logins to this account; try again later');

  const slowDown = (retryAfterSeconds: number, description: string) =>
    new OAuthError('slow_down', description, {
      status: 429,
      headers: { 'retry-after': String(retryAfterSeconds) },
    });

  /**
   * The password check, through the queue's fair shares. A check the queue refused (its owner's share
   * is full: 429; the queue is full: 503) checked no password, so it gives its reserved failure back:
   * a flood that fills the queue can never count as failed logins against the owner.
   */
  async function checkPassword(
    user: { id: string; password_hash: string } | undefined,
    password: string,
    address: string,
    attempt: { released(): Promise<void> },
  ): Promise<boolean> {
    const owners = { address, account: user?.id };
    try {
      return user
        ? await hasher.verify(user.password_hash, password, owners)
        : await hasher.verifyDummy(password, owners);
    } catch (error) {
      await attempt.released();
      if (error instanceof HashShareError) throw slowDown(1, error.message);
      throw error;
    }
  }

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
    user: DeviceOwner | undefined,
    address: string,
    deviceCookie: string | undefined,
  ) {
    const device = await devices.verifyCookie(deviceCookie, user);
    if (device !== undefined) return `device:${device}`;
    // Asked for unknown logins too, so that a known and an unknown name cost the same queries.
    return (await devices.isKnownAddress(user?.id, address)) ? `address:${address}` : undefined;
  }

  /**
   * A login name and password checked under every login rule, for any door that takes a password
   * (`/token` now, the login page next): the failed-login throttle with the owner's own bucket, the
   * successful-login limit, the fair share of the hash queue, the same answer and time for an unknown
   * name, a wrong password and a disabled account. Throws the OAuth error to answer; on success the
   * caller makes its session and then calls `succeeded` (or `abandoned` when it makes none).
   */
  async function verifyCredentials(input: {
    username: string;
    password: string;
    /** Canonical (http/client-address.ts): what the limits and the remembered addresses key on. */
    address: string;
    /** The address as the request came and its user agent: kept on the session and its events. */
    facts: AuditFacts;
    deviceCookie: string | undefined;
    log: FastifyBaseLogger;
  }): Promise<VerifiedLogin> {
    const { log, facts } = input;
    const user = await users.findByLogin(input.username);
    const trusted = await trustedBucket(user, input.address, input.deviceCookie);
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
      throw slowDown(attempt.retryAfterSeconds, 'too many failed logins; try again later');
    }
    // Successful logins are limited too (RATE_LIMIT_LOGINS): a client with the account's own
    // password cannot mint sessions without end. Looked at before the hash, so past the limit a
    // login costs no Argon2 time; only someone who knows the password can fill it.
    if (user) {
      const logins = await deps.counter.peek(loginsKey(user.id));
      if (logins.current >= deps.loginsPerHour) {
        await attempt.released();
        throw tooManyLogins(logins.ttl);
      }
    }
    // Always verify a hash (a dummy one for an unknown login), and check `disabled` only afterwards,
    // so all three failures cost the same time.
    const passwordOk = await checkPassword(user, input.password, input.address, attempt);
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
    // Counted atomically before any session is made, so racing logins cannot all pass the look
    // above: one past the limit starts no session.
    const logins = await deps.counter.increment(loginsKey(user.id), HOUR_MS);
    if (logins.current > deps.loginsPerHour) {
      await attempt.released();
      throw tooManyLogins(logins.ttl);
    }
    return {
      user,
      // Whether this browser or address had seen the owner log in: a "new place" is what to look at.
      seenBefore: trusted?.split(':')[0] ?? 'no',
      abandoned: () => attempt.released(),
      async succeeded() {
        await attempt.succeeded();
        await devices.rememberAddress(user.id, input.address);
        metrics?.logins.inc({ result: 'success' });
        // A browser that brought a good device cookie keeps it: one browser, one bucket (a fresh
        // cookie per login would hand a flood a new bucket each time).
        const keepsCookie = trusted?.startsWith('device:') === true;
        return { deviceCookie: keepsCookie ? undefined : await devices.issueCookie(user) };
      },
    };
  }

  /**
   * RFC 6749 §4.3: the resource owner password credentials grant. Answers the token pair and, for a
   * browser without a good one, a device cookie (set by the route).
   */
  async function passwordGrant(
    form: TokenForm,
    context: GrantContext,
  ): Promise<{ answer: TokenAnswer; deviceCookie?: string | undefined }> {
    if (!form.username) throw new OAuthError('invalid_request', 'username is required');
    if (form.password === undefined || form.password === '')
      throw new OAuthError('invalid_request', 'password is required');
    const requested = requestedScopes(form.scope);
    const { facts, log } = context;
    const login = await verifyCredentials({ ...context, username: form.username, password: form.password });
    const { user } = login;
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
      throw new OAuthError('invalid_grant', BAD_CREDENTIALS);
    }
    return { answer, ...(await login.succeeded()) };
  }

  /** RFC 6749 §6: a refresh token for a new pair (rotation and reuse detection are the sessions'). */
  async function refreshGrant(form: TokenForm, context: GrantContext): Promise<{ answer: TokenAnswer }> {
    if (!form.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required');
    const answer = await sessions.refresh({
      refreshToken: form.refresh_token,
      scope: form.scope,
      facts: context.facts,
      log: context.log,
    });
    return { answer };
  }

  /** The grants /token serves, by grant_type: the one place a new grant is added. */
  const GRANTS: Record<string, (form: TokenForm, context: GrantContext) => Promise<GrantResult>> = {
    password: passwordGrant,
    refresh_token: refreshGrant,
  };

  /**
   * POST /token. A missing grant_type with username and password is the password grant (what
   * FastAPI's OAuth2PasswordRequestForm clients send).
   */
  async function token(form: TokenForm, context: GrantContext): Promise<GrantResult> {
    const grantType =
      form.grant_type ??
      (form.username !== undefined && form.password !== undefined ? 'password' : undefined);
    if (grantType === undefined || grantType === '')
      throw new OAuthError('invalid_request', 'grant_type is required');
    const grant = Object.hasOwn(GRANTS, grantType) ? GRANTS[grantType] : undefined;
    if (!grant) {
      throw new OAuthError('unsupported_grant_type', `grant_type ${grantType.slice(0, 40)} is not supported`);
    }
    return grant(form, context);
  }

  return { token, verifyCredentials };
}

/** The fields of a /token request (RFC 6749 §4.3.2, §6), as the route validated them. */
export interface TokenForm {
  readonly grant_type?: string | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly refresh_token?: string | undefined;
  readonly scope?: string | undefined;
}

/** Where a token request came from. */
export interface GrantContext {
  /** Canonical (http/client-address.ts): what the limits and the remembered addresses key on. */
  readonly address: string;
  readonly facts: AuditFacts;
  readonly deviceCookie: string | undefined;
  readonly log: FastifyBaseLogger;
}

export interface GrantResult {
  readonly answer: TokenAnswer;
  /** A device cookie to set (the password grant, for a browser without a good one). */
  readonly deviceCookie?: string | undefined;
}

/** A password that passed every login rule; the caller makes its session, then reports back. */
export interface VerifiedLogin {
  readonly user: UserRow;
  readonly seenBefore: string;
  /** No session was made after all (a scope refused, a racing password change): nothing counts. */
  abandoned(): Promise<void>;
  /** The session stands: the throttle gives back, the address is remembered, a cookie may be issued. */
  succeeded(): Promise<{ deviceCookie: string | undefined }>;
}
