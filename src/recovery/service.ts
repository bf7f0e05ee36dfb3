import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { AccountMail, PersonalTokenControl, SessionControl } from '../accounts/dependencies.ts';
import { passwordProblem } from '../accounts/password-policy.ts';
import type { UsersRepository } from '../accounts/repository.ts';
import type { AuditFacts } from '../audit/events.ts';
import { insertAuditEvents } from '../audit/repository.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { type Clock, HOUR_MS } from '../clock.ts';
import { isUniqueViolation } from '../db/errors.ts';
import type { Database, NewAuditEvent, UserRow } from '../db/schema.ts';
import { ConflictError, HttpError, UnprocessableError } from '../http/errors.ts';
import type { WindowCounter } from '../http/rate-limits.ts';
import { messages } from '../mail/messages.ts';
import type { MailContent, Outbox } from '../mail/outbox.ts';
import type { AccountTokens, TokenPurpose } from './tokens.ts';

/** Where each link of a message leads: a page of this server (pages.ts). */
export const PAGES = {
  verifyEmail: '/account/verify-email',
  resetPassword: '/account/reset-password',
} as const;

export class InvalidLinkError extends HttpError {
  constructor() {
    super(400, 'invalid_link', 'the link is invalid, expired or already used');
  }
}

export type RecoveryService = ReturnType<typeof createRecoveryService>;

/**
 * Email verification, password reset and the messages account changes send (it is accounts'
 * AccountMail). Every message is written to the outbox in the transaction of what causes it.
 */
export function createRecoveryService(deps: {
  users: UsersRepository;
  tokens: AccountTokens;
  outbox: Outbox;
  audit: AuditTrail;
  clock: Clock;
  hash: (password: string) => Promise<string>;
  sessions: SessionControl;
  /** A reset ends the user's personal access tokens too (API.md). */
  personalTokens: PersonalTokenControl;
  /** Counts messages per recipient (RATE_LIMIT_MAIL per hour), shared over Redis when there is one. */
  counter: WindowCounter;
  appUrl: string;
  resetTtlSeconds: number;
  verificationTtlSeconds: number;
  mailPerHour: number;
  log?: FastifyBaseLogger | undefined;
}) {
  const { users, tokens, outbox, audit, clock } = deps;
  const inFlight = new Set<Promise<void>>();

  const link = (page: string, token: string) => `${deps.appUrl}${page}?token=${token}`;

  /**
   * Whether one more message may go to this mailbox, for this account, this hour (RATE_LIMIT_MAIL
   * each). Every message counts, notices included; beyond either limit the request still answers as
   * a success and nothing is sent: a mailbox cannot be flooded through one account or many, nor an
   * account probed. Both counts are taken, so a refused message still counts against both.
   */
  async function mayMail(recipient: string, userId?: string): Promise<boolean> {
    const byRecipient = await deps.counter.increment(`mail:${recipient.toLowerCase()}`, HOUR_MS);
    const byAccount =
      userId === undefined ? undefined : await deps.counter.increment(`mail-account:${userId}`, HOUR_MS);
    return byRecipient.current <= deps.mailPerHour && (byAccount?.current ?? 0) <= deps.mailPerHour;
  }

  /** A message that is no link (a notice), within the limits, written with `db`. */
  async function notify(db: Kysely<Database>, recipient: string, userId: string, content: MailContent) {
    if (await mayMail(recipient, userId)) await outbox.enqueue(db, recipient, content);
  }

  const links = {
    email_verification: {
      page: PAGES.verifyEmail,
      ttlSeconds: deps.verificationTtlSeconds,
      compose: messages.verifyEmail,
    },
    password_reset: {
      page: PAGES.resetPassword,
      ttlSeconds: deps.resetTtlSeconds,
      compose: messages.resetPassword,
    },
  } as const;

  /**
   * A link of `purpose` to the user's current address, written with `db` together with its event;
   * beyond the mail limits nothing is sent (nor recorded) and the answer is the same.
   */
  async function sendLink(
    db: Kysely<Database>,
    user: UserRow,
    purpose: TokenPurpose,
    event: NewAuditEvent | undefined,
    to: string = user.email,
  ): Promise<NewAuditEvent[]> {
    if (!(await mayMail(to, user.id))) return [];
    const { page, ttlSeconds, compose } = links[purpose];
    const token = await tokens.issue(db, { purpose, user, now: clock.now(), ttlSeconds, email: to });
    await outbox.enqueue(db, to, compose(user.username, link(page, token), ttlSeconds));
    if (event === undefined) return [];
    await insertAuditEvents(db, [event]);
    return [event];
  }

  const sendVerification = (db: Kysely<Database>, user: UserRow, facts: AuditFacts) =>
    sendLink(
      db,
      user,
      'email_verification',
      audit.event('email_verification_sent', { ...facts, userId: user.id, details: { to: user.email } }),
    );

  const mail: AccountMail = {
    signedUp: (db, user, facts) => sendVerification(db, user, facts),
    signupAttempted: (db, holder) =>
      notify(db, holder.email, holder.id, messages.signupAttempt(holder.username)),
    async emailChanged(db, user, previousEmail, facts) {
      await notify(db, previousEmail, user.id, messages.emailChanged(user.username, user.email));
      return sendVerification(db, user, facts);
    },
    async emailChangeRequested(db, user, holder) {
      const pending = user.pending_email;
      if (pending === null) return;
      await notify(db, user.email, user.id, messages.emailChangeRequested(user.username, pending));
      if (holder) {
        await notify(db, holder.email, user.id, messages.addressAttempt(holder.username));
        return;
      }
      // No event either way: the caller reads its own security events, and a taken address must not
      // show there. email_changed is recorded when the link is used.
      await sendLink(db, user, 'email_verification', undefined, pending);
    },
    passwordChanged: (db, user, how) =>
      notify(db, user.email, user.id, messages.passwordChanged(user.username, how)),
    securityChanged: (db, user, change) =>
      notify(db, user.email, user.id, messages.securityChanged(user.username, change)),
    accountDeleted: (db, user) => notify(db, user.email, user.id, messages.accountDeleted(user.username)),
    committed: () => outbox.kick(),
  };

  /** Work that runs after its answer (so the answer says nothing); tracked so close() can wait for it. */
  function afterAnswer(work: () => Promise<void>) {
    const running = work()
      .catch((error) => deps.log?.error({ err: error }, 'a mail request failed after its answer'))
      .finally(() => inFlight.delete(running));
    inFlight.add(running);
  }

  return {
    mail,

    /** POST /email-verifications: a fresh link to the caller's address (none when already verified). */
    async requestVerification(userId: string, facts: AuditFacts): Promise<void> {
      const user = await users.findById(userId);
      if (!user) return;
      // A pending address (EMAIL_VERIFICATION=required) gets a fresh link, without an event (see
      // emailChangeRequested); else the account's own address while it is unverified.
      if (user.pending_email !== null) {
        await users.inTransaction((_repository, trx) =>
          sendLink(trx, user, 'email_verification', undefined, user.pending_email ?? user.email),
        );
        outbox.kick();
        return;
      }
      if (user.email_verified) return;
      const events = await users.inTransaction((_repository, trx) => sendVerification(trx, user, facts));
      audit.published(events);
      outbox.kick();
    },

    /** Confirms the address the token was sent to; the token is spent in the same transaction. */
    /**
     * Confirms the address the token was sent to; the token is spent in the same transaction. A link
     * to a pending address (EMAIL_VERIFICATION=required) makes it the account's address: if someone
     * else took it meanwhile, 409 and nothing changes.
     */
    async confirmVerification(token: string, facts: AuditFacts): Promise<UserRow> {
      const user = await tokens.check(token, 'email_verification', clock.now());
      if (!user) throw new InvalidLinkError();
      const events: NewAuditEvent[] = [];
      const verified = await users
        .inTransaction(async (repository, trx) => {
          const holder = await tokens.spend(trx, token, 'email_verification', clock.now());
          if (!holder || holder.id !== user.id) return undefined;
          const promotes = holder.sent_to !== holder.email;
          if (promotes) {
            events.push(
              audit.event('email_changed', {
                ...facts,
                userId: user.id,
                details: { from: holder.email, to: holder.sent_to },
              }),
            );
          }
          events.push(
            audit.event('email_verified', { ...facts, userId: user.id, details: { email: holder.sent_to } }),
          );
          const change = promotes ? { email: holder.sent_to, pending_email: null } : {};
          return repository.update(
            user.id,
            { ...change, email_verified: true, updated_at: clock.now() },
            events,
          );
        })
        .catch((error: unknown) => {
          if (isUniqueViolation(error)) throw new ConflictError('that email address is taken', 'email_taken');
          throw error;
        });
      if (!verified) throw new InvalidLinkError();
      audit.published(events);
      deps.sessions.forgetUser(user.id); // the session cache holds email_verified, and scopes follow it
      return verified;
    },

    /**
     * POST /password-resets: answers at once, the same for every address; whether an account has it
     * is looked at only after the answer, so neither the body nor the time tells.
     */
    requestPasswordReset(email: string, facts: AuditFacts): void {
      afterAnswer(async () => {
        const user = await users.findByLogin(email.toLowerCase());
        if (!user || user.disabled) return;
        const events = await users.inTransaction((_repository, trx) =>
          sendLink(
            trx,
            user,
            'password_reset',
            audit.event('password_reset_requested', { ...facts, userId: user.id }),
          ),
        );
        audit.published(events);
        outbox.kick();
      });
    },

    /** Whether a link is still good, spending nothing (its page shows its form only then). */
    async linkWorks(token: string, purpose: TokenPurpose): Promise<boolean> {
      return (await tokens.check(token, purpose, clock.now())) !== undefined;
    },

    /**
     * Sets the new password (signup's rules: 422, and the link stays good), spends the token, proves
     * the address (the link reached it), sends a notice, and ends every session of the user.
     */
    async confirmPasswordReset(token: string, newPassword: string, facts: AuditFacts): Promise<void> {
      const user = await tokens.check(token, 'password_reset', clock.now());
      if (!user) throw new InvalidLinkError();
      const problem = passwordProblem(newPassword, { username: user.username, email: user.email });
      if (problem) throw new UnprocessableError([{ path: '/new_password', message: problem }]);
      const passwordHash = await deps.hash(newPassword);
      const events = [audit.event('password_reset_completed', { ...facts, userId: user.id })];
      // The link is checked again where it is spent (the password or address may have changed since
      // the check above), and every session ends in the same transaction as the new password.
      const sessionsEnded = await users.inTransaction(async (repository, trx) => {
        const holder = await tokens.spend(trx, token, 'password_reset', clock.now());
        if (!holder || holder.id !== user.id) return undefined;
        const updated = await repository.update(
          user.id,
          { password_hash: passwordHash, email_verified: true, updated_at: clock.now() },
          events,
        );
        if (!updated) return undefined;
        await mail.passwordChanged(trx, updated, 'reset');
        const tokensEnded = await deps.personalTokens.revokeAllOfUserWithin(
          trx,
          user.id,
          'password_reset',
          facts,
        );
        const ended = await deps.sessions.revokeAllOfUserWithin(trx, user.id, 'password_reset', { facts });
        return () => {
          tokensEnded();
          ended();
        };
      });
      if (!sessionsEnded) throw new InvalidLinkError();
      audit.published(events);
      outbox.kick();
      sessionsEnded();
    },

    /** Waits for the work still running after its answer (the database closes next). */
    async drain(): Promise<void> {
      await Promise.all([...inFlight]);
    },
  };
}
