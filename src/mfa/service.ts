import type { FastifyBaseLogger } from 'fastify';
import type { AccountMail, SecurityChange, SessionControl } from '../accounts/dependencies.ts';
import type { UsersRepository } from '../accounts/repository.ts';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { hasSecondFactor, mfaRequiredFor } from '../authz/mfa-policy.ts';
import type { Clock } from '../clock.ts';
import { isUuid } from '../db/ids.ts';
import type { UserRow } from '../db/schema.ts';
import { ConflictError, NotFoundError, UnprocessableError } from '../http/errors.ts';
import type { KeyCipher } from '../keys/key-encryption.ts';
import { hashRecoveryCode, newRecoveryCodes, normaliseRecoveryCode } from './recovery-codes.ts';
import type { MfaRepository } from './repository.ts';
import { newTotpSecret, otpauthUri, stepOfCode } from './totp.ts';

export type Mfa = ReturnType<typeof createMfa>;

/**
 * The events of a new factor: mfa_enrolled (with `details`), and recovery_codes_renewed when it is
 * the account's first and came with `codes` recovery codes.
 */
export function enrolmentEvents(
  audit: AuditTrail,
  input: AuditFacts & { userId: string },
  details: { factor: 'totp' | 'passkey'; name?: string },
  codes: number,
) {
  return [
    audit.event('mfa_enrolled', { ...input, details }),
    ...(codes > 0 ? [audit.event('recovery_codes_renewed', { ...input, details: { codes } })] : []),
  ];
}

/** What a second step was given with: a TOTP code, or a recovery code (both `otp` in RFC 8176). */
export type CodeMethod = 'totp' | 'recovery_code';

/**
 * Second factors (API.md "Multi-factor authentication"): TOTP that accepts each code once, recovery
 * codes kept as hashes and spent once, the admin's reset. Every change is audited and mailed, and
 * dropped from the session cache at once (the guard reads the account's factors from it).
 */
export function createMfa(deps: {
  repository: MfaRepository;
  users: UsersRepository;
  cipher: KeyCipher;
  audit: AuditTrail;
  clock: Clock;
  mail: Pick<AccountMail, 'securityChanged' | 'committed'>;
  sessions: Pick<SessionControl, 'revokeAllOfUser' | 'forgetUser'>;
  /** What an authenticator app shows the account under (the issuer's host). */
  issuerName: string;
  mfaRequired: 'off' | 'admin' | 'all';
}) {
  const { repository, users, cipher, audit, clock, mail, sessions } = deps;
  const sealContext = (userId: string) => `mfa_totp:${userId}`;
  const notice =
    (change: SecurityChange) => (trx: Parameters<AccountMail['securityChanged']>[0], user: UserRow) =>
      mail.securityChanged(trx, user, change);

  /** After a committed change: its log lines, its message on its way, the guard's view renewed. */
  function committed(userId: string, events: Parameters<AuditTrail['published']>[0]) {
    audit.published(events);
    mail.committed();
    sessions.forgetUser(userId);
  }

  async function getUser(userId: string): Promise<UserRow> {
    const user = await users.findById(userId);
    if (!user) throw new NotFoundError('user not found', 'user_not_found');
    return user;
  }

  return {
    async status(userId: string) {
      const user = await getUser(userId);
      return {
        totp: user.mfa_totp,
        passkeys: Number(user.mfa_passkeys),
        recovery_codes_left: await repository.recoveryCodesLeft(userId),
        required: mfaRequiredFor(deps.mfaRequired, user.role),
      };
    },

    /** A new TOTP secret, not active until a code from it is confirmed; 409 while one is active. */
    async startTotp(userId: string): Promise<{ secret: string; otpauth_uri: string }> {
      const user = await getUser(userId);
      const secret = newTotpSecret();
      if (!(await repository.startTotp(userId, cipher.seal(secret, sealContext(userId)), clock.now())))
        throw new ConflictError(
          'an authenticator app is already set up: remove it first to set up another',
          'mfa_totp_enrolled',
        );
      return { secret, otpauth_uri: otpauthUri(secret, user.username, deps.issuerName) };
    },

    /** The enrolment waiting for its first code, for the security page to show again (its QR code). */
    async pendingTotp(userId: string): Promise<{ secret: string; otpauth_uri: string } | undefined> {
      const row = await repository.totp(userId);
      if (!row || row.confirmed_at !== null) return undefined;
      const user = await getUser(userId);
      const secret = cipher.open(row.secret_sealed, sealContext(userId));
      return { secret, otpauth_uri: otpauthUri(secret, user.username, deps.issuerName) };
    },

    /**
     * A first code from the new secret turns it on (and is spent). The account's first factor comes
     * with a fresh set of recovery codes, answered this once; otherwise `[]`.
     */
    async confirmTotp(
      userId: string,
      code: string,
      facts: AuditFacts,
    ): Promise<{ recovery_codes: string[] }> {
      const row = await repository.totp(userId);
      if (!row || row.confirmed_at !== null)
        throw new ConflictError('no authenticator app is waiting to be confirmed', 'mfa_totp_not_pending');
      const step = stepOfCode(cipher.open(row.secret_sealed, sealContext(userId)), code.trim(), clock.now());
      if (step === undefined)
        throw new UnprocessableError([
          {
            path: '/code',
            message: 'does not match: enter the current code the app shows (check its clock)',
          },
        ]);
      const codes = newRecoveryCodes();
      let events: Parameters<AuditTrail['published']>[0] = [];
      const confirmed = await repository.confirmTotp(
        userId,
        step,
        clock.now(),
        codes.map((text) => hashRecoveryCode(normaliseRecoveryCode(text)!)),
        (first) => {
          events = enrolmentEvents(audit, { ...facts, userId }, { factor: 'totp' }, first ? codes.length : 0);
          return events;
        },
        notice('totp_added'),
      );
      if (!confirmed)
        throw new ConflictError('no authenticator app is waiting to be confirmed', 'mfa_totp_not_pending');
      committed(userId, events);
      return { recovery_codes: confirmed.first ? codes : [] };
    },

    async removeTotp(userId: string, facts: AuditFacts): Promise<void> {
      const events = [audit.event('mfa_removed', { ...facts, userId, details: { factor: 'totp' } })];
      if (!(await repository.removeTotp(userId, events, notice('totp_removed'))))
        throw new NotFoundError('no authenticator app is set up', 'mfa_factor_not_found');
      committed(userId, events);
    },

    /** A new set of ten, the old set void; 409 for an account without a second factor. */
    async renewRecoveryCodes(userId: string, facts: AuditFacts): Promise<{ recovery_codes: string[] }> {
      const codes = newRecoveryCodes();
      const events = [
        audit.event('recovery_codes_renewed', { ...facts, userId, details: { codes: codes.length } }),
      ];
      const renewed = await repository.renewRecoveryCodes(
        userId,
        codes.map((text) => hashRecoveryCode(normaliseRecoveryCode(text)!)),
        clock.now(),
        events,
        notice('recovery_codes_renewed'),
      );
      if (!renewed)
        throw new ConflictError(
          'recovery codes come with a second factor: set one up first',
          'mfa_not_enrolled',
        );
      committed(userId, events);
      return { recovery_codes: codes };
    },

    /**
     * A second step's code: a TOTP code (accepted once: RFC 6238 §5.2) or a recovery code (spent
     * once, audited and mailed). Undefined, with an mfa_failed event, when it is neither.
     */
    async verifyCode(
      user: Pick<UserRow, 'id' | 'mfa_totp'>,
      typed: string,
      facts: AuditFacts,
      log?: FastifyBaseLogger,
    ): Promise<CodeMethod | undefined> {
      const code = typed.replace(/\s/g, '');
      if (/^\d{6}$/.test(code)) {
        const row = user.mfa_totp ? await repository.totp(user.id) : undefined;
        const step =
          row?.confirmed_at != null
            ? stepOfCode(cipher.open(row.secret_sealed, sealContext(user.id)), code, clock.now())
            : undefined;
        if (step !== undefined && (await repository.acceptTotpStep(user.id, step))) return 'totp';
      } else {
        const canonical = normaliseRecoveryCode(code);
        const events = [audit.event('recovery_code_used', { ...facts, userId: user.id })];
        if (
          canonical !== undefined &&
          (await repository.spendRecoveryCode(
            user.id,
            hashRecoveryCode(canonical),
            clock.now(),
            events,
            notice('recovery_code_used'),
          ))
        ) {
          audit.published(events, log);
          mail.committed();
          return 'recovery_code';
        }
      }
      audit.later(
        'mfa_failed',
        { ...facts, userId: user.id, details: { method: /^\d{6}$/.test(code) ? 'totp' : 'recovery_code' } },
        log,
      );
      return undefined;
    },

    /** DELETE /users/{id}/mfa: every factor goes, every session of the user ends, they are told. */
    async adminReset(userId: string, facts: AuditFacts): Promise<void> {
      const events = [audit.event('mfa_reset', { ...facts, userId })];
      if (!isUuid(userId) || !(await repository.resetAll(userId, events, notice('mfa_reset'))))
        throw new NotFoundError('user not found', 'user_not_found');
      committed(userId, events);
      await sessions.revokeAllOfUser(userId, 'mfa_reset', { facts });
    },

    hasSecondFactor,
  };
}
