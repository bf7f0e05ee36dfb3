import type { FastifyBaseLogger } from 'fastify';
import { type Hasher, HashShareError } from '../accounts/hash-queue.ts';
import type { UsersRepository } from '../accounts/repository.ts';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { type Clock, HOUR_MS } from '../clock.ts';
import type { UserRow } from '../db/schema.ts';
import type { Metrics } from '../http/metrics.ts';
import type { WindowCounter } from '../http/rate-limits.ts';
import type { DeviceOwner, Devices } from './devices.ts';
import { LoginRefusedError } from './errors.ts';
import type { LoginThrottle } from './throttle.ts';

export type LoginService = ReturnType<typeof createLoginService>;

export function createLoginService(deps: {
  users: UsersRepository;
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
  const { users, throttle, devices, hasher, audit, clock, metrics } = deps;
  const loginsKey = (userId: string) => `logins:${userId}`;

  const tooManyLogins = (ttlMs: number) =>
    LoginRefusedError.slowDown(
      Math.max(1, Math.ceil(ttlMs / 1000)),
      'too many logins to this account; try again later',
    );

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
      if (error instanceof HashShareError) throw LoginRefusedError.slowDown(1, error.message);
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
   * name, a wrong password and a disabled account. Throws LoginRefusedError; on success the
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
      throw LoginRefusedError.slowDown(attempt.retryAfterSeconds, 'too many failed logins; try again later');
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
      throw LoginRefusedError.badCredentials();
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
   * The second step of a sign-in whose password was right (a TOTP or recovery code): under the same
   * failed-login throttle as the password, with the owner's own bucket, so that wrong codes count as
   * failed logins and strangers' failures never lock the owner out. `check` verifies the code.
   */
  async function verifySecondStep(input: {
    user: UserRow;
    address: string;
    facts: AuditFacts;
    deviceCookie: string | undefined;
    check: () => Promise<boolean>;
    log: FastifyBaseLogger;
  }): Promise<
    | { readonly outcome: 'verified'; completed(): Promise<{ deviceCookie: string | undefined }> }
    | { readonly outcome: 'wrong' }
    | { readonly outcome: 'throttled'; readonly retryAfterSeconds: number }
  > {
    const { user } = input;
    const trusted = await trustedBucket(user, input.address, input.deviceCookie);
    const attempt = await throttle.attempt({
      userId: user.id,
      name: user.username,
      address: input.address,
      trusted,
    });
    if (!attempt.allowed) {
      metrics?.logins.inc({ result: 'throttled' });
      return { outcome: 'throttled', retryAfterSeconds: attempt.retryAfterSeconds };
    }
    if (!(await input.check())) {
      // The failure reserved by the attempt stays counted.
      metrics?.logins.inc({ result: 'failure' });
      return { outcome: 'wrong' };
    }
    return {
      outcome: 'verified',
      async completed() {
        await attempt.succeeded();
        await devices.rememberAddress(user.id, input.address);
        metrics?.logins.inc({ result: 'success' });
        const keepsCookie = trusted?.startsWith('device:') === true;
        return { deviceCookie: keepsCookie ? undefined : await devices.issueCookie(user) };
      },
    };
  }

  return { verifyCredentials, verifySecondStep };
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
