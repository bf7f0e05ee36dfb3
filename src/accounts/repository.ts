import { withAuditEvents } from '../audit/repository.ts';
import type { Cursor } from '../db/cursor.ts';
import { isPostgres } from '../db/dialect.ts';
import { olderThan } from '../db/keyset.ts';
import { type Kysely, sql } from '../db/kysely.ts';
import type { Database, NewAuditEvent, NewUser, UserRow, UserUpdate } from '../db/schema.ts';

export type UsersQueries = ReturnType<typeof usersQueries>;

/**
 * The users columns the guard's lookups join (a session's, a personal token's): what becomes the
 * caller's AccountSnapshot (authz/principal.ts), read in the same indexed query.
 */
export const ACCOUNT_COLUMNS = [
  'users.role',
  'users.disabled',
  'users.username',
  'users.email',
  'users.email_verified',
  'users.pending_email',
  'users.full_name',
  'users.bio',
  'users.image',
  'users.mfa_totp',
  'users.mfa_passkeys',
  'users.created_at',
  'users.updated_at',
] as const;
export type UsersRepository = ReturnType<typeof createUsersRepository>;

/**
 * What other domains do when a user is deleted: `before`, in the deletion's transaction, for rows
 * of theirs that ON DELETE CASCADE would leave wrong (counts); `after`, once it committed.
 */
export interface UserRemoval {
  before(trx: Kysely<Database>, userId: string): Promise<void>;
  after(): void;
}

/** Users rows. Returns undefined for "not there"; never throws HTTP errors. */
export function createUsersRepository(db: Kysely<Database>, removal?: UserRemoval) {
  return {
    ...usersQueries(db, removal),

    /** After a deletion committed: what other domains do then (UserRemoval.after). */
    removed: (): void => removal?.after(),

    /**
     * Runs `work` in a transaction that no other admin change runs beside, so two admins demoting each
     * other at once cannot leave none (PostgreSQL: an advisory lock; SQLite: writes are serialised).
     */
    inAdminTransaction: <T>(work: (users: UsersQueries, trx: Kysely<Database>) => Promise<T>): Promise<T> =>
      db.transaction().execute(async (trx) => {
        if (isPostgres(trx)) {
          await sql`select pg_advisory_xact_lock(hashtext('inkgate:admin-changes'))`.execute(trx);
        }
        return work(usersQueries(trx, removal), trx);
      }),

    /** Runs `work` in one transaction: a change, its events and its messages commit together. */
    inTransaction: <T>(work: (users: UsersQueries, trx: Kysely<Database>) => Promise<T>): Promise<T> =>
      db.transaction().execute((trx) => work(usersQueries(trx, removal), trx)),
  };
}

/**
 * The users queries on a connection or on another domain's transaction: the one place that reads or
 * writes the users table (sessions re-read a user as a login commits; recovery reads a link's holder).
 */
export function usersIn(db: Kysely<Database>): UsersQueries {
  return usersQueries(db);
}

function usersQueries(db: Kysely<Database>, removal?: UserRemoval) {
  return {
    /**
     * `lock` holds the row until the transaction ends (PostgreSQL; SQLite runs one writer at a time):
     * `share` lets others read it but not change it, `update` keeps other lockers out too.
     */
    findById: (id: string, options: { lock?: 'share' | 'update' } = {}): Promise<UserRow | undefined> => {
      let query = db.selectFrom('users').selectAll().where('id', '=', id);
      if (options.lock && isPostgres(db))
        query = options.lock === 'share' ? query.forShare() : query.forUpdate();
      return query.executeTakeFirst();
    },

    /** A login read the old epoch: one that commits after this starts no session (sessions/). */
    bumpSessionsEpoch: async (id: string): Promise<void> => {
      await db
        .updateTable('users')
        .set((eb) => ({ sessions_epoch: eb('sessions_epoch', '+', 1) }))
        .where('id', '=', id)
        .execute();
    },

    /**
     * Which second factors the account has, as mfa/ changes them (inside its transaction): every
     * answer with a user, and the guard's one query, read them from the users row.
     */
    setMfaFactors: async (id: string, factors: { totp?: boolean; passkeys?: number }): Promise<void> => {
      await db
        .updateTable('users')
        .set({
          ...(factors.totp !== undefined && { mfa_totp: factors.totp }),
          ...(factors.passkeys !== undefined && { mfa_passkeys: factors.passkeys }),
        })
        .where('id', '=', id)
        .execute();
    },

    /** A username (any case) or an email address. */
    findByLogin: async (login: string): Promise<UserRow | undefined> => {
      // No username or email holds a NUL, and PostgreSQL refuses one in a text parameter.
      if (login.includes('\u0000')) return undefined;
      const lower = login.toLowerCase();
      return db
        .selectFrom('users')
        .selectAll()
        .where((eb) =>
          lower.includes('@') ? eb('email', '=', lower) : eb(eb.fn('lower', ['username']), '=', lower),
        )
        .executeTakeFirst();
    },

    /** Inserts the user and, in the same transaction, the events that record it. */
    insert: (user: NewUser, events: readonly NewAuditEvent[] = []): Promise<UserRow> =>
      withAuditEvents(db, events, (trx) =>
        trx.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow(),
      ),

    /** Changes the user and stores `events` with the change (none when there is no such user). */
    update: (
      id: string,
      changes: UserUpdate,
      events: readonly NewAuditEvent[] = [],
    ): Promise<UserRow | undefined> =>
      withAuditEvents(db, events, (trx) =>
        trx.updateTable('users').set(changes).where('id', '=', id).returningAll().executeTakeFirst(),
      ),

    hasAdmin: async (): Promise<boolean> =>
      (await db.selectFrom('users').select('id').where('role', '=', 'admin').limit(1).executeTakeFirst()) !==
      undefined,

    /** Enabled admins: the ones who can still manage users. */
    countActiveAdmins: async (): Promise<number> => {
      const row = await db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('role', '=', 'admin')
        .where('disabled', '=', false)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    /** Newest first, keyset-paged on (created_at, id). */
    list: (after: Cursor | undefined, limit: number): Promise<UserRow[]> => {
      let query = db.selectFrom('users').selectAll();
      if (after) query = query.where(olderThan(after, 'created_at', 'id'));
      return query
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
    },

    /**
     * Deletes the user, with `events`; posts, comments, favourites and sessions go with it (ON
     * DELETE CASCADE), after the other domains' UserRemoval.before in the same transaction.
     */
    remove: (id: string, events: readonly NewAuditEvent[] = []): Promise<boolean> => {
      const work = (trx: Kysely<Database>) =>
        withAuditEvents(trx, events, async (inner) => {
          await removal?.before(inner, id);
          const result = await inner.deleteFrom('users').where('id', '=', id).executeTakeFirst();
          return Number(result.numDeletedRows) > 0;
        });
      return db.isTransaction ? work(db) : db.transaction().execute(work);
    },
  };
}
