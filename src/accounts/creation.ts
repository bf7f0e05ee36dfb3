import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Role } from '../authz/roles.ts';
import type { Clock } from '../clock.ts';
import type { Database, NewAuditEvent, UserRow } from '../db/schema.ts';
import type { HashOwners } from './hash-queue.ts';
import type { UsersRepository } from './repository.ts';
import { ownersOf, requireFree, requirePasswordAllowed, uniquely } from './rules.ts';

export interface SignupInput {
  username: string;
  email: string;
  password: string;
  full_name?: string | undefined;
  role?: Role;
}

export type AccountCreation = ReturnType<typeof createAccountCreation>;

/**
 * Making accounts, for every door: the API's signup (accounts/service.ts), the operator's CLI and the
 * first admin from ADMIN_*. Needs only the users, the audit trail and the hasher.
 */
export function createAccountCreation(deps: {
  users: UsersRepository;
  clock: Clock;
  audit: AuditTrail;
  hash: (password: string, owners?: HashOwners) => Promise<string>;
}) {
  const { users, clock, audit } = deps;

  /**
   * Inserts the user with its event and whatever `welcome` writes with it (the API signup's
   * verification message), in one transaction. Accounts the operator makes (CLI, ADMIN_*) start
   * verified: the operator vouches.
   */
  async function insertUser(
    input: SignupInput,
    email: string,
    passwordHash: string,
    facts: AuditFacts & { via?: 'cli' | 'settings' },
    welcome?: (trx: Kysely<Database>, user: UserRow) => Promise<NewAuditEvent[]>,
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
    const user = await uniquely(users, { username: input.username, email }, () =>
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
        if (welcome) events.push(...(await welcome(trx, inserted)));
        return inserted;
      }),
    );
    audit.published(events);
    return user;
  }

  /**
   * A new account under signup's rules, recorded as `signup` (or `admin_bootstrapped` for the first
   * admin from the ADMIN_* settings) in the same transaction; `facts` say where the request came from.
   */
  async function signup(
    input: SignupInput,
    facts: AuditFacts & { via?: 'cli' | 'settings' } = {},
    welcome?: (trx: Kysely<Database>, user: UserRow) => Promise<NewAuditEvent[]>,
  ): Promise<UserRow> {
    const email = input.email.toLowerCase();
    requirePasswordAllowed(input.password, { username: input.username, email }, '/password');
    await requireFree(users, { username: input.username, email });
    return insertUser(input, email, await deps.hash(input.password, ownersOf(facts)), facts, welcome);
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

  return { signup, insertUser, ensureAdmin };
}
