import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Clock } from '../clock.ts';
import type { UserRow, UserUpdate } from '../db/schema.ts';
import { canonicalAddress } from '../http/client-address.ts';
import { ForbiddenError, HttpError, NotFoundError, UnprocessableError } from '../http/errors.ts';
import type { AccountCreation, SignupInput } from './creation.ts';
import type { AccountMail, PasswordAttempts, SessionControl } from './dependencies.ts';
import type { HashOwners } from './hash-queue.ts';
import type { UsersRepository } from './repository.ts';
import {
  getUser,
  ownersOf,
  requireAnotherAdmin,
  requireFree,
  requirePasswordAllowed,
  updateUser,
} from './rules.ts';

export type AccountsService = ReturnType<typeof createAccountsService>;

/**
 * What users do to their own account: sign up (POST /users), change their profile, email and
 * password, delete it. Every dependency is required: a change that proves the current password,
 * ends sessions or sends mail has what it needs, or the service is not built.
 */
/** How recent a password sign-in stands in for the current password (the RealWorld API's rule). */
const RECENT_SIGN_IN_MS = 5 * 60_000;

export function createAccountsService(deps: {
  users: UsersRepository;
  clock: Clock;
  audit: AuditTrail;
  creation: AccountCreation;
  hash: (password: string, owners?: HashOwners) => Promise<string>;
  verify: (passwordHash: string, password: string, owners?: HashOwners) => Promise<boolean>;
  sessions: SessionControl;
  passwordAttempts: PasswordAttempts;
  mail: AccountMail;
  /** EMAIL_VERIFICATION=required: signup answers alike whether or not the email is taken. */
  verificationRequired: boolean;
}) {
  const { users, clock, audit, creation, sessions, mail } = deps;

  /**
   * POST /users. With EMAIL_VERIFICATION=required the answer is the same whether or not the email is
   * taken (no enumeration): a taken one costs the same hash, and its owner is told of the attempt.
   */
  async function register(
    input: SignupInput,
    facts: AuditFacts,
  ): Promise<{ created: UserRow } | { accepted: true }> {
    if (!deps.verificationRequired) {
      return { created: await creation.signup(input, facts, (trx, user) => mail.signedUp(trx, user, facts)) };
    }
    const email = input.email.toLowerCase();
    requirePasswordAllowed(input.password, { username: input.username, email }, '/password');
    await requireFree(users, { username: input.username });
    const holder = await users.findByLogin(email);
    const passwordHash = await deps.hash(input.password, ownersOf(facts));
    if (holder) {
      await users.inTransaction(async (_repository, trx) => mail.signupAttempted(trx, holder));
    } else {
      await creation.insertUser(input, email, passwordHash, facts, (trx, user) =>
        mail.signedUp(trx, user, facts),
      );
    }
    mail.committed();
    return { accepted: true };
  }

  /**
   * 429 while the session has used up its current-password attempts; 403 for a wrong password. The
   * check takes its place in the hash queue under the caller's address and account shares, like a
   * login; a check the queue refused (429, 503) checked nothing and counts as no attempt.
   */
  /**
   * Who changes an email address or a password proves it is them: with the current password, or —
   * where a client cannot ask for it (the RealWorld API) — with a password sign-in of the last five
   * minutes (403 reauthentication_required after that).
   */
  async function proveIdentity(
    user: UserRow,
    sessionId: string,
    currentPassword: string | undefined,
    signedInAt: Date | undefined,
    facts: AuditFacts | undefined,
  ): Promise<void> {
    if (currentPassword !== undefined) return requireCurrentPassword(user, sessionId, currentPassword, facts);
    if (signedInAt === undefined || clock.now().getTime() - signedInAt.getTime() > RECENT_SIGN_IN_MS)
      throw new ForbiddenError(
        'sign in again with your password to change this',
        'reauthentication_required',
      );
  }

  async function requireCurrentPassword(
    user: UserRow,
    sessionId: string,
    password: string,
    facts: AuditFacts | undefined,
  ) {
    const attempt = await deps.passwordAttempts.attemptInSession(sessionId);
    if (!attempt.allowed) {
      throw new HttpError(429, 'too_many_attempts', 'too many wrong passwords; try again later', {
        headers: { 'retry-after': String(attempt.retryAfterSeconds) },
      });
    }
    const owners = { address: facts?.ip ? canonicalAddress(facts.ip) : undefined, account: user.id };
    let matches = false;
    try {
      matches = await deps.verify(user.password_hash, password, owners);
    } catch (error) {
      await attempt.released();
      throw error;
    }
    if (!matches) throw new ForbiddenError('the current password is wrong', 'wrong_password');
    await attempt.succeeded();
  }

  /**
   * Changes the caller's name or email. A new email needs the current password (ASVS 5.0 V7.5.1:
   * account recovery goes through it), starts unverified, and is told apart in mail: a verification
   * to the new address, a notice to the old one.
   */
  /** The profile fields a PATCH /users/me sets (what it leaves out stays). */
  const profileChanges = (changes: {
    username?: string | undefined;
    full_name?: string | undefined;
    bio?: string | undefined;
    image?: string | null | undefined;
  }): UserUpdate => ({
    ...(changes.username !== undefined && { username: changes.username }),
    ...(changes.full_name !== undefined && { full_name: changes.full_name }),
    ...(changes.bio !== undefined && { bio: changes.bio }),
    ...(changes.image !== undefined && { image: changes.image }),
  });

  async function updateProfile(
    id: string,
    changes: {
      username?: string | undefined;
      full_name?: string | undefined;
      bio?: string | undefined;
      image?: string | null | undefined;
      email?: string | undefined;
      current_password?: string | undefined;
    },
    context: {
      sessionId?: string;
      facts?: AuditFacts;
      /** Instead of the current password, a password sign-in this recent (the RealWorld API). */
      signedInAt?: Date;
    } = {},
  ) {
    const facts = context.facts ?? {};
    const before = await getUser(users, id);
    // Looked up before the transaction: on PostgreSQL a unique violation inside it ends it.
    if (changes.username !== undefined) await requireFree(users, { username: changes.username }, id);
    const email = changes.email?.toLowerCase();
    const emailChanges = email !== undefined && email !== before.email;
    if (emailChanges) {
      if (changes.current_password === undefined && context.signedInAt === undefined) {
        throw new UnprocessableError([
          { path: '/current_password', message: 'is required to change the email address' },
        ]);
      }
      await proveIdentity(
        before,
        context.sessionId ?? id,
        changes.current_password,
        context.signedInAt,
        facts,
      );
      if (deps.verificationRequired) return requestEmailChange(before, email, profileChanges(changes));
      await requireFree(users, { email }, id);
    }
    const events = emailChanges
      ? [audit.event('email_changed', { ...facts, userId: id, details: { from: before.email, to: email } })]
      : [];
    const updated = await users.inTransaction(async (repository, trx) => {
      const changed = await updateUser(
        repository,
        id,
        { ...profileChanges(changes), ...(emailChanges && { email, email_verified: false }) },
        clock.now(),
        events,
      );
      if (emailChanges) events.push(...(await mail.emailChanged(trx, changed, before.email, facts)));
      return changed;
    });
    audit.published(events);
    mail.committed();
    sessions.forgetUser(id); // the session cache holds the profile too
    return updated;
  }

  /**
   * EMAIL_VERIFICATION=required: the new address is only pending until the link sent to it is used,
   * and the answer is the same whether or not another account has it (no enumeration): that
   * account's owner is told of the attempt instead of a link going out.
   */
  async function requestEmailChange(before: UserRow, email: string, profile: UserUpdate): Promise<UserRow> {
    const holder = await users.findByLogin(email);
    const taken = holder !== undefined && holder.id !== before.id ? holder : undefined;
    const updated = await users.inTransaction(async (repository, trx) => {
      const changed = await updateUser(
        repository,
        before.id,
        { pending_email: email, ...profile },
        clock.now(),
      );
      await mail.emailChangeRequested(trx, changed, taken);
      return changed;
    });
    mail.committed();
    sessions.forgetUser(before.id); // the session cache holds the profile too
    return updated;
  }

  /**
   * A password change proves the current password — limited per session, so a stolen access token
   * is no password-guessing oracle, and strangers' failed logins never stop the owner changing it —
   * and ends every other session of the user.
   */
  async function changePassword(input: {
    userId: string;
    sessionId: string;
    /** The proof: the current password, or (the RealWorld API) a password sign-in of the last minutes. */
    currentPassword?: string | undefined;
    signedInAt?: Date | undefined;
    newPassword: string;
    facts?: AuditFacts;
  }): Promise<void> {
    const user = await getUser(users, input.userId);
    await proveIdentity(user, input.sessionId, input.currentPassword, input.signedInAt, input.facts);
    requirePasswordAllowed(
      input.newPassword,
      { username: user.username, email: user.email },
      '/new_password',
    );
    const facts = { ...input.facts, sessionId: input.sessionId };
    const events = [audit.event('password_changed', { ...facts, userId: user.id })];
    const passwordHash = await deps.hash(input.newPassword, { account: user.id });
    // The other sessions end in the password's own transaction: a password that changed with an
    // attacker's session still alive is the one outcome this must never have.
    const sessionsEnded = await users.inTransaction(async (repository, trx) => {
      const changed = await updateUser(
        repository,
        user.id,
        { password_hash: passwordHash },
        clock.now(),
        events,
      );
      await mail.passwordChanged(trx, changed, 'changed');
      return sessions.revokeAllOfUserWithin(trx, user.id, 'password_changed', {
        except: input.sessionId,
        facts,
      });
    });
    audit.published(events);
    mail.committed();
    sessionsEnded();
  }

  /**
   * DELETE /users/me: the caller's account, with its posts and sessions, after the password (limited
   * per session like a password change). The last enabled admin cannot (409). A notice goes to the
   * address, in the same transaction as the delete and its account_deleted event.
   */
  async function deleteOwnAccount(input: {
    userId: string;
    sessionId: string;
    password: string;
    facts?: AuditFacts;
  }): Promise<void> {
    const user = await getUser(users, input.userId);
    await requireCurrentPassword(user, input.sessionId, input.password, input.facts);
    const events = await users.inAdminTransaction(async (repository, trx) => {
      const current = await repository.findById(user.id);
      if (!current) throw new NotFoundError('user not found', 'user_not_found');
      requireAnotherAdmin(current, await repository.countActiveAdmins(), 'delete');
      const deleted = [
        audit.event('account_deleted', {
          ...input.facts,
          sessionId: input.sessionId,
          userId: user.id,
          details: { username: current.username, role: current.role },
        }),
      ];
      await repository.remove(user.id, deleted);
      await mail.accountDeleted(trx, current);
      return deleted;
    });
    audit.published(events);
    mail.committed();
    sessions.forgetUser(user.id);
    users.removed();
  }

  return {
    register,
    getUser: (id: string): Promise<UserRow> => getUser(users, id),
    updateProfile,
    changePassword,
    deleteOwnAccount,
  };
}
