import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Role } from '../authz/roles.ts';
import type { Clock } from '../clock.ts';
import { toPage } from '../db/cursor.ts';
import type { NewAuditEvent, UserRow, UserUpdate } from '../db/schema.ts';
import { NotFoundError } from '../http/errors.ts';
import { decodeCursor } from '../http/pagination.ts';
import type { AccountMail, PersonalTokenControl, SessionControl } from './dependencies.ts';
import type { UsersRepository } from './repository.ts';
import { getUser, requireAnotherAdmin, requireFree, updateUser } from './rules.ts';

export type AdminAccounts = ReturnType<typeof createAdminAccounts>;

/** What admins do to other accounts (/users, /users/{id}): list, change role, status or profile, delete. */
export function createAdminAccounts(deps: {
  users: UsersRepository;
  clock: Clock;
  audit: AuditTrail;
  sessions: SessionControl;
  /** Disabling a user ends their personal access tokens for good (re-enabling brings none back). */
  personalTokens: PersonalTokenControl;
  mail: AccountMail;
}) {
  const { users, clock, audit, sessions, personalTokens, mail } = deps;

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
    const target = await getUser(users, id);
    const email = changes.email?.toLowerCase();
    await requireFree(users, { email }, id);
    let events: NewAuditEvent[] = [];
    let tokensEnded = () => {};
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
      const changed = await updateUser(repository, id, next, clock.now(), events);
      if (next.disabled === true && !current.disabled)
        tokensEnded = await personalTokens.revokeAllOfUserWithin(trx, id, 'user_disabled', facts);
      // A new address set by an admin is not proven either: it gets a verification, the old a notice.
      if (details.fields.includes('email')) {
        events.push(...(await mail.emailChanged(trx, changed, current.email, facts)));
      }
      return changed;
    });
    audit.published(events);
    mail.committed();
    tokensEnded();
    // Disabling ends every session at once; any other change reaches tokens already issued through
    // the guard, which reads the current role and profile (the cache entries of this user are dropped).
    if (changes.disabled === true && !target.disabled) {
      await sessions.revokeAllOfUser(id, 'user_disabled', { facts });
    } else {
      sessions.forgetUser(id);
    }
    return updated;
  }

  async function deleteUser(id: string, facts: AuditFacts = {}): Promise<void> {
    await getUser(users, id);
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
    sessions.forgetUser(id); // its sessions went with it (ON DELETE CASCADE)
    users.removed();
  }

  async function listUsers(query: { limit?: number; cursor?: string }) {
    const limit = query.limit ?? 20;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    return toPage(await users.list(after, limit), limit);
  }

  return {
    getUser: (id: string): Promise<UserRow> => getUser(users, id),
    adminUpdate,
    deleteUser,
    listUsers,
  };
}
