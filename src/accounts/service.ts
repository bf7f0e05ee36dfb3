import { v7 as uuidv7 } from 'uuid';
import type { hashPassword } from '../auth/passwords.ts';
import type { Clock } from '../clock.ts';
import { isUniqueViolation } from '../db/errors.ts';
import type { UserRow } from '../db/schema.ts';
import { ConflictError, NotFoundError, UnprocessableError } from '../http/errors.ts';
import { passwordProblem } from './password-policy.ts';
import type { UsersRepository } from './repository.ts';
import type { Role } from './roles.ts';

export type AccountsService = ReturnType<typeof createAccountsService>;

export interface SignupInput {
  username: string;
  email: string;
  password: string;
  full_name?: string | undefined;
  role?: Role;
}

export function createAccountsService(deps: {
  users: UsersRepository;
  clock: Clock;
  hash: typeof hashPassword;
}) {
  const { users, clock, hash } = deps;

  function requirePasswordAllowed(
    password: string,
    context: { username?: string; email?: string },
    path: string,
  ) {
    const problem = passwordProblem(password, context);
    if (problem) throw new UnprocessableError([{ path, message: problem }]);
  }

  async function requireFree(fields: { username?: string; email?: string }, exceptId?: string) {
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

  /** A unique violation that slipped past requireFree (two requests at once) is still a 409, not a 500. */
  async function uniquely<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError('that username or email address is taken');
      throw error;
    }
  }

  async function signup(input: SignupInput): Promise<UserRow> {
    const email = input.email.toLowerCase();
    requirePasswordAllowed(input.password, { username: input.username, email }, '/password');
    await requireFree({ username: input.username, email });
    const passwordHash = await hash(input.password);
    const now = clock.now();
    return uniquely(() =>
      users.insert({
        id: uuidv7(),
        username: input.username,
        email,
        password_hash: passwordHash,
        full_name: input.full_name ?? '',
        role: input.role ?? 'user',
        disabled: false,
        created_at: now,
        updated_at: now,
      }),
    );
  }

  async function getUser(id: string): Promise<UserRow> {
    const user = await users.findById(id);
    if (!user) throw new NotFoundError('user not found');
    return user;
  }

  async function updateProfile(
    id: string,
    changes: { full_name?: string | undefined; email?: string | undefined },
  ) {
    const email = changes.email?.toLowerCase();
    await requireFree({ email }, id);
    const user = await uniquely(() =>
      users.update(id, {
        ...(changes.full_name !== undefined && { full_name: changes.full_name }),
        ...(email !== undefined && { email }),
        updated_at: clock.now(),
      }),
    );
    if (!user) throw new NotFoundError('user not found');
    return user;
  }

  /** The first admin from ADMIN_* settings, created only when no admin exists yet. */
  async function ensureAdmin(admin: {
    username: string;
    email: string;
    password: string;
  }): Promise<UserRow | undefined> {
    if (await users.hasAdmin()) return undefined;
    return signup({ ...admin, role: 'admin' });
  }

  return { signup, getUser, updateProfile, ensureAdmin };
}
