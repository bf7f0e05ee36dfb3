import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Role } from '../authz/roles.ts';
import type { Clock } from '../clock.ts';
import { toPage } from '../db/cursor.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { isUuid } from '../db/ids.ts';
import type { Database, NewAuditEvent, UserRow, UserUpdate } from '../db/schema.ts';
import { canonicalAddress } from '../http/client-address.ts';
import {
  ConflictError,
  ForbiddenError,
  HttpError,
  NotFoundError,
  UnprocessableError,
} from '../http/errors.ts';
import { decodeCursor } from '../http/pagination.ts';
import type { HashOwners } from './hash-queue.ts';
import { passwordProblem } from './password-policy.ts';
import type { UsersQueries, UsersRepository } from './repository.ts';

export type AccountsService = ReturnType<typeof createAccountsService>;

export interface SignupInput {
  username: string;
  email: string;
  password: string;
  full_name?: string | undefined;
  role?: Role;
}

/** What accounts need from sessions: ending them when an account changes. */
export interface SessionControl {
  /** Ends the user's sessions (but `except`), recording sessions_revoked_all with `facts`. */
  revokeAllOfUser(
    userId: string,
    reason: string,
    options?: { except?: string | undefined; facts?: AuditFacts },
  ): Promise<void>;
  /** The same inside `trx`, the change's own transaction; call what it answers once that commits. */
  revokeAllOfUserWithin(
    trx: Kysely<Database>,
    userId: string,
    reason: string,
    options?: { except?: string | undefined; facts?: AuditFacts },
  ): Promise<() => void>;
  /** Drop what this instance remembers of the user's sessions (role, disabled, existence). */
  forgetUser(userId: string): void;
}

/**
 * The messages account changes send (recovery/ implements it). Each writes its message, and any event
 * it records, with `db`: the transaction of the change, so both commit or neither does; the events
 * are answered for the caller to publish once committed, and `committed()` then has them delivered.
 */
export interface AccountMail {
  /** A verification message to the new account's address. */
  signedUp(db: Kysely<Database>, user: UserRow, facts: AuditFacts): Promise<NewAuditEvent[]>;
  /** EMAIL_VERIFICATION=required: "someone tried to sign up with your address", to its owner. */
  signupAttempted(db: Kysely<Database>, holder: UserRow): Promise<void>;
  /** A verification message to the new address and a notice naming it (masked) to the old one. */
  emailChanged(
    db: Kysely<Database>,
    user: UserRow,
    previousEmail: string,
    facts: AuditFacts,
  ): Promise<NewAuditEvent[]>;
  /**
   * EMAIL_VERIFICATION=required: `user.pending_email` was asked for. A link to it, or — when
   * `holder` already has that address — the "someone tried to use your address" notice to the
   * holder instead; and a notice to the current address either way.
   */
  emailChangeRequested(db: Kysely<Database>, user: UserRow, holder: UserRow | undefined): Promise<void>;
  passwordChanged(db: Kysely<Database>, user: UserRow, how: 'changed' | 'reset'): Promise<void>;
  accountDeleted(db: Kysely<Database>, user: UserRow): Promise<void>;
  committed(): void;
}

/** Current-password checks, limited per session (a stolen access token is no password oracle). */
export interface PasswordAttempts {
  attemptInSession(
    sessionId: string,
  ): Promise<
    | { readonly allowed: true; succeeded(): Promise<void>; released(): Promise<void> }
    | { readonly allowed: false; readonly retryAfterSeconds: number }
  >;
}

export function createAccountsService(deps: {
  users: UsersRepository;
  clock: Clock;
  audit: AuditTrail;
  hash: (password: string, owners?: HashOwners) => Promise<string>;
  verify?: (passwordHash: string, password: string, owners?: HashOwners) => Promise<boolean>;
  sessions?: SessionControl;
  passwordAttempts?: PasswordAttempts;
  mail?: AccountMail;
  /** EMAIL_VERIFICATION=required: signup answers alike whether or not the email is taken. */
  verificationRequired?: boolean;
}) {
  const { users, clock, audit, hash, mail } = deps;

  const ownersOf = (facts: AuditFacts): HashOwners => ({
    address: facts.ip ? canonicalAddress(facts.ip) : undefined,
  });

  function requirePasswordAllowed(
    password: string,
    context: { username?: string; email?: string },
    path: string,
  ) {
    const problem = passwordProblem(password, context);
    if (problem) throw new UnprocessableError([{ path, message: problem }]);
  }

  async function requireFree(fields: { username?: string; email?: string | undefined }, exceptId?: string) {
    if (fields.username !== undefined) {
      const holder = await users.findByLogin(fields.username);
      if (holder && holder.id !== exceptId)
        throw new ConflictError('that username is taken', 'username_taken');
    }
    if (fields.email !== undefined) {
      const holder = await users.findByLogin(fields.email);
      if (holder && holder.id !== exceptId)
        throw new ConflictError('that email address is taken', 'email_taken');
    }
  }

  /**
   * A unique violation that slipped past requireFree (two requests at once) is still a 409, not a 500,
   * with the code of the field taken: the winner's row is committed, so looking again names it.
   */
  async function uniquely<T>(
    fields: { username?: string; email?: string | undefined },
    write: () => Promise<T>,
    exceptId?: string,
  ): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      await requireFree(fields, exceptId);
      throw new ConflictError(
        'that username or email address is taken',
        fields.username !== undefined ? 'username_taken' : 'email_taken',
      );
    }
  }

  function requireSessions(): SessionControl {
    if (!deps.sessions) throw new Error('this accounts service was built without session control');
    return deps.sessions;
  }

  /**
   * A new account, recorded as `signup` (or `admin_bootstrapped` for the first admin from the ADMIN_*
   * settings) in the same transaction; `facts` say where the request came from.
   */
  async function signup(
    input: SignupInput,
    facts: AuditFacts & { via?: 'cli' | 'settings' } = {},
  ): Promise<UserRow> {
    const email = input.email.toLowerCase();
    requirePasswordAllowed(input.password, { username: input.username, email }, '/password');
    await requireFree({ username: input.username, email });
    return insertUser(input, email, await hash(input.password, ownersOf(facts)), facts);
  }

  /**
   * Inserts the user with its event and, for a signup through the API, the verification message, in
   * one transaction. Accounts the operator makes (CLI, ADMIN_*) start verified: the operator vouches.
   */
  async function insertUser(
    input: SignupInput,
    email: string,
    passwordHash: string,
    facts: AuditFacts & { via?: 'cli' | 'settings' },
  ): Promise<UserRow> {
    const now = clock.now();
    const id = uuidv7();
    const role = input.role ?? 'user';
    const { via, ...where } = facts;
    const events = [
      audit.event(via === 'settings' ? 'admin_bootstrapped' : 'signup', {
        ...where,
        userId: id,
        details: { username: input.username, role, ...(via !== undefined && { via }) },
      }),
    ];
    const user = await uniquely({ username: input.username, email }, () =>
      users.inTransaction(async (repository, trx) => {
        const inserted = await repository.insert(
          {
            id,
            username: input.username,
            email,
            password_hash: passwordHash,
            full_name: input.full_name ?? '',
            role,
            disabled: false,
            email_verified: via !== undefined,
            created_at: now,
            updated_at: now,
          },
          events,
        );
        if (via === undefined && mail) events.push(...(await mail.signedUp(trx, inserted, where)));
        return inserted;
      }),
    );
    audit.published(events);
    mail?.committed();
    return user;
  }

  /**
   * POST /users. With EMAIL_VERIFICATION=required the answer is the same whether or not the email is
   * taken (no enumeration): a taken one costs the same hash, and its owner is told of the attempt.
   */
  async function register(
    input: SignupInput,
    facts: AuditFacts,
  ): Promise<{ created: UserRow } | { accepted: true }> {
    if (!deps.verificationRequired) return { created: await signup(input, facts) };
    const email = input.email.toLowerCase();
    requirePasswordAllowed(input.password, { username: input.username, email }, '/password');
    await requireFree({ username: input.username });
    const holder = await users.findByLogin(email);
    const passwordHash = await hash(input.password, ownersOf(facts));
    if (holder) {
      await users.inTransaction(async (_repository, trx) => mail?.signupAttempted(trx, holder));
      mail?.committed();
    } else {
      await insertUser(input, email, passwordHash, facts);
    }
    return { accepted: true };
  }

  async function getUser(id: string): Promise<UserRow> {
    const user = isUuid(id) ? await users.findById(id) : undefined;
    if (!user) throw new NotFoundError('user not found', 'user_not_found');
    return user;
  }

  /** Changes the user, storing `events` in the same transaction. */
  async function update(
    id: string,
    changes: UserUpdate,
    options: { repository?: UsersQueries; events?: NewAuditEvent[] } = {},
  ): Promise<UserRow> {
    const { repository = users, events = [] } = options;
    const fields = { username: changes.username, email: changes.email ?? undefined };
    const user = await uniquely(
      fields,
      () => repository.update(id, { ...changes, updated_at: clock.now() }, events),
      id,
    );
    if (!user) throw new NotFoundError('user not found', 'user_not_found');
    return user;
  }

  /**
   * 429 while the session has used up its current-password attempts; 403 for a wrong password. The
   * check takes its place in the hash queue under the caller's address and account shares, like a
   * login; a check the queue refused (429, 503) checked nothing and counts as no attempt.
   */
  async function requireCurrentPassword(
    user: UserRow,
    sessionId: string,
    password: string,
    facts: AuditFacts | undefined,
  ) {
    const attempt = await deps.passwordAttempts?.attemptInSession(sessionId);
    if (attempt && !attempt.allowed) {
      throw new HttpError(429, 'too_many_attempts', 'too many wrong passwords; try again later', {
        headers: { 'retry-after': String(attempt.retryAfterSeconds) },
      });
    }
    const owners = { address: facts?.ip ? canonicalAddress(facts.ip) : undefined, account: user.id };
    let matches = false;
    try {
      matches = deps.verify !== undefined && (await deps.verify(user.password_hash, password, owners));
    } catch (error) {
      await attempt?.released();
      throw error;
    }
    if (!matches) throw new ForbiddenError('the current password is wrong', 'wrong_password');
    await attempt?.succeeded();
  }

  /**
   * Changes the caller's name or email. A new email needs the current password (ASVS 5.0 V7.5.1:
   * account recovery goes through it), starts unverified, and is told apart in mail: a verification
   * to the new address, a notice to the old one.
   */
  async function updateProfile(
    id: string,
    changes: {
      full_name?: string | undefined;
      email?: string | undefined;
      current_password?: string | undefined;
    },
    context: { sessionId?: string; facts?: AuditFacts } = {},
  ) {
    const facts = context.facts ?? {};
    const before = await getUser(id);
    const email = changes.email?.toLowerCase();
    const emailChanges = email !== undefined && email !== before.email;
    if (emailChanges) {
      if (changes.current_password === undefined) {
        throw new UnprocessableError([
          { path: '/current_password', message: 'is required to change the email address' },
        ]);
      }
      await requireCurrentPassword(before, context.sessionId ?? id, changes.current_password, facts);
      if (deps.verificationRequired) return requestEmailChange(before, email, changes.full_name);
      await requireFree({ email }, id);
    }
    const events = emailChanges
      ? [audit.event('email_changed', { ...facts, userId: id, details: { from: before.email, to: email } })]
      : [];
    const updated = await users.inTransaction(async (repository, trx) => {
      const changed = await update(
        id,
        {
          ...(changes.full_name !== undefined && { full_name: changes.full_name }),
          ...(emailChanges && { email, email_verified: false }),
        },
        { repository, events },
      );
      if (emailChanges && mail) events.push(...(await mail.emailChanged(trx, changed, before.email, facts)));
      return changed;
    });
    audit.published(events);
    mail?.committed();
    deps.sessions?.forgetUser(id); // the session cache holds the profile too
    return updated;
  }

  /**
   * EMAIL_VERIFICATION=required: the new address is only pending until the link sent to it is used,
   * and the answer is the same whether or not another account has it (no enumeration): that
   * account's owner is told of the attempt instead of a link going out.
   */
  async function requestEmailChange(
    before: UserRow,
    email: string,
    fullName: string | undefined,
  ): Promise<UserRow> {
    const holder = await users.findByLogin(email);
    const taken = holder !== undefined && holder.id !== before.id ? holder : undefined;
    const updated = await users.inTransaction(async (repository, trx) => {
      const changed = await update(
        before.id,
        { pending_email: email, ...(fullName !== undefined && { full_name: fullName }) },
        { repository },
      );
      await mail?.emailChangeRequested(trx, changed, taken);
      return changed;
    });
    mail?.committed();
    deps.sessions?.forgetUser(before.id); // the session cache holds the profile too
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
    currentPassword: string;
    newPassword: string;
    facts?: AuditFacts;
  }): Promise<void> {
    const user = await getUser(input.userId);
    await requireCurrentPassword(user, input.sessionId, input.currentPassword, input.facts);
    requirePasswordAllowed(
      input.newPassword,
      { username: user.username, email: user.email },
      '/new_password',
    );
    const facts = { ...input.facts, sessionId: input.sessionId };
    const events = [audit.event('password_changed', { ...facts, userId: user.id })];
    const passwordHash = await hash(input.newPassword, { account: user.id });
    // The other sessions end in the password's own transaction: a password that changed with an
    // attacker's session still alive is the one outcome this must never have.
    const sessionsEnded = await users.inTransaction(async (repository, trx) => {
      const changed = await update(user.id, { password_hash: passwordHash }, { repository, events });
      await mail?.passwordChanged(trx, changed, 'changed');
      return requireSessions().revokeAllOfUserWithin(trx, user.id, 'password_changed', {
        except: input.sessionId,
        facts,
      });
    });
    audit.published(events);
    mail?.committed();
    sessionsEnded();
  }

  /** The last enabled admin must stay one: otherwise nobody could manage users any more. */
  function requireAnotherAdmin(target: UserRow, activeAdmins: number, action: string) {
    if (target.role === 'admin' && !target.disabled && activeAdmins <= 1) {
      throw new ConflictError(`cannot ${action} the last remaining admin`, 'last_admin');
    }
  }

  /** What an admin changed, for the user_updated event: the fields, and old and new role and status. */
  function changeDetails(current: UserRow, next: UserUpdate) {
    const fields = (['role', 'disabled', 'full_name', 'email'] as const).filter(
      (field) => next[field] !== undefined && next[field] !== current[field],
    );
    return {
      fields,
      ...(fields.includes('role') && { role_from: current.role, role_to: next.role ?? current.role }),
      ...(fields.includes('disabled') && {
        disabled_from: current.disabled,
        disabled_to: next.disabled ?? current.disabled,
      }),
    };
  }

  async function adminUpdate(
    id: string,
    changes: { role?: Role; disabled?: boolean; full_name?: string; email?: string },
    facts: AuditFacts = {},
  ): Promise<UserRow> {
    const target = await getUser(id);
    const email = changes.email?.toLowerCase();
    await requireFree({ email }, id);
    let events: NewAuditEvent[] = [];
    const updated = await users.inAdminTransaction(async (repository, trx) => {
      const current = await repository.findById(id);
      if (!current) throw new NotFoundError('user not found', 'user_not_found');
      const losesAdmin =
        (changes.role !== undefined && changes.role !== 'admin') || changes.disabled === true;
      if (losesAdmin)
        requireAnotherAdmin(
          current,
          await repository.countActiveAdmins(),
          changes.disabled ? 'disable' : 'demote',
        );
      const next: UserUpdate = {
        ...(changes.role !== undefined && { role: changes.role }),
        ...(changes.disabled !== undefined && { disabled: changes.disabled }),
        ...(changes.full_name !== undefined && { full_name: changes.full_name }),
        ...(email !== undefined && email !== current.email && { email, email_verified: false }),
      };
      const details = changeDetails(current, next);
      events =
        details.fields.length > 0 ? [audit.event('user_updated', { ...facts, userId: id, details })] : [];
      const changed = await update(id, next, { repository, events });
      // A new address set by an admin is not proven either: it gets a verification, the old a notice.
      if (details.fields.includes('email') && mail) {
        events.push(...(await mail.emailChanged(trx, changed, current.email, facts)));
      }
      return changed;
    });
    audit.published(events);
    mail?.committed();
    // Disabling ends every session at once; any other change reaches tokens already issued through
    // the guard, which reads the current role and profile (the cache entries of this user are dropped).
    if (changes.disabled === true && !target.disabled) {
      await requireSessions().revokeAllOfUser(id, 'user_disabled', { facts });
    } else {
      requireSessions().forgetUser(id);
    }
    return updated;
  }

  async function deleteUser(id: string, facts: AuditFacts = {}): Promise<void> {
    await getUser(id);
    const events = await users.inAdminTransaction(async (repository) => {
      const current = await repository.findById(id);
      if (!current) throw new NotFoundError('user not found', 'user_not_found');
      requireAnotherAdmin(current, await repository.countActiveAdmins(), 'delete');
      const deleted = [
        audit.event('user_deleted', {
          ...facts,
          userId: id,
          details: { username: current.username, role: current.role },
        }),
      ];
      await repository.remove(id, deleted);
      return deleted;
    });
    audit.published(events);
    requireSessions().forgetUser(id); // its sessions went with it (ON DELETE CASCADE)
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
    const user = await getUser(input.userId);
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
      await mail?.accountDeleted(trx, current);
      return deleted;
    });
    audit.published(events);
    mail?.committed();
    requireSessions().forgetUser(user.id);
  }

  async function listUsers(query: { limit?: number; cursor?: string }) {
    const limit = query.limit ?? 20;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    return toPage(await users.list(after, limit), limit);
  }

  /** The first admin from ADMIN_* settings, created only when no admin exists yet. */
  async function ensureAdmin(admin: {
    username: string;
    email: string;
    password: string;
  }): Promise<UserRow | undefined> {
    if (await users.hasAdmin()) return undefined;
    return signup({ ...admin, role: 'admin' }, { via: 'settings' });
  }

  return {
    signup,
    register,
    getUser,
    updateProfile,
    changePassword,
    adminUpdate,
    deleteUser,
    deleteOwnAccount,
    listUsers,
    ensureAdmin,
  };
}
