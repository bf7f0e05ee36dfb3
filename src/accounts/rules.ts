import type { AuditFacts } from '../audit/events.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { isUuid } from '../db/ids.ts';
import type { NewAuditEvent, UserRow, UserUpdate } from '../db/schema.ts';
import { canonicalAddress } from '../http/client-address.ts';
import { ConflictError, NotFoundError, UnprocessableError } from '../http/errors.ts';
import type { HashOwners } from './hash-queue.ts';
import { passwordProblem } from './password-policy.ts';
import type { UsersQueries } from './repository.ts';

/** The rules every account change shares (signup, profile, admin), over the users repository. */

/** Where a password check or hash queues: the request's address share (accounts.ts's hash queue). */
export const ownersOf = (facts: AuditFacts): HashOwners => ({
  address: facts.ip ? canonicalAddress(facts.ip) : undefined,
});

/** 422 at `path` when the password breaks signup's rules (password-policy.ts). */
export function requirePasswordAllowed(
  password: string,
  context: { username?: string; email?: string },
  path: string,
): void {
  const problem = passwordProblem(password, context);
  if (problem) throw new UnprocessableError([{ path, message: problem }]);
}

/** 409 with the field's code when another account holds the username or the email. */
export async function requireFree(
  users: UsersQueries,
  fields: { username?: string; email?: string | undefined },
  exceptId?: string,
): Promise<void> {
  if (fields.username !== undefined) {
    const holder = await users.findByLogin(fields.username);
    if (holder && holder.id !== exceptId) throw new ConflictError('that username is taken', 'username_taken');
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
export async function uniquely<T>(
  users: UsersQueries,
  fields: { username?: string; email?: string | undefined },
  write: () => Promise<T>,
  exceptId?: string,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    await requireFree(users, fields, exceptId);
    throw new ConflictError(
      'that username or email address is taken',
      fields.username !== undefined ? 'username_taken' : 'email_taken',
    );
  }
}

export async function getUser(users: UsersQueries, id: string): Promise<UserRow> {
  const user = isUuid(id) ? await users.findById(id) : undefined;
  if (!user) throw new NotFoundError('user not found', 'user_not_found');
  return user;
}

/** Changes the user (updated at `now`), storing `events` in the same transaction. */
export async function updateUser(
  users: UsersQueries,
  id: string,
  changes: UserUpdate,
  now: Date,
  events: NewAuditEvent[] = [],
): Promise<UserRow> {
  const fields = { username: changes.username, email: changes.email ?? undefined };
  const user = await uniquely(
    users,
    fields,
    () => users.update(id, { ...changes, updated_at: now }, events),
    id,
  );
  if (!user) throw new NotFoundError('user not found', 'user_not_found');
  return user;
}

/** The last enabled admin must stay one: otherwise nobody could manage users any more. */
export function requireAnotherAdmin(target: UserRow, activeAdmins: number, action: string) {
  if (target.role === 'admin' && !target.disabled && activeAdmins <= 1) {
    throw new ConflictError(`cannot ${action} the last remaining admin`, 'last_admin');
  }
}
