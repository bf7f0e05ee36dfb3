import { ACCOUNT_COLUMNS, usersIn } from '../accounts/repository.ts';
import { insertAuditEvents } from '../audit/repository.ts';
import { DAY_MS } from '../clock.ts';
import { CompiledQuery, type Kysely } from '../db/kysely.ts';
import { deleteInBatches } from '../db/scheduled-jobs.ts';
import type { Database, NewAuditEvent, NewSession } from '../db/schema.ts';

export type SessionsRepository = ReturnType<typeof createSessionsRepository>;

/** Sessions and refresh-token rows. Only hashes of refresh tokens ever reach the database. */
export function createSessionsRepository(db: Kysely<Database>) {
  // The guard's question on every session-cache miss, compiled once: only its parameter changes.
  const stateQuery = db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select([
      'sessions.id',
      'sessions.user_id',
      'sessions.last_used_at',
      'sessions.expires_at',
      'sessions.revoked_at',
      'sessions.client_id',
      ...ACCOUNT_COLUMNS,
    ])
    .where('sessions.id', '=', '00000000-0000-0000-0000-000000000000');
  type StateRow = Awaited<ReturnType<typeof stateQuery.executeTakeFirstOrThrow>>;
  const stateSql = stateQuery.compile().sql;

  return {
    /**
     * A new session with its first refresh token, in one transaction that first re-reads the user
     * (FOR SHARE on PostgreSQL, so a password change, disable or logout-everywhere waits for it or it
     * for them; SQLite runs one writer at a time). False, and nothing written, when the user is now
     * disabled, has another password hash, or had its sessions ended since the login read it.
     * `events` (the login's) are stored with the session; `tokenHash`, its first refresh token (none
     * for a browser session, whose secret is on the row). `within` writes in the caller's transaction
     * (a code's redemption).
     */
    create: (
      session: NewSession,
      tokenHash: string | undefined,
      login: { passwordHash: string; sessionsEpoch: number },
      events: readonly NewAuditEvent[] = [],
    ) =>
      db.transaction().execute(async (trx) => {
        const user = await usersIn(trx).findById(session.user_id, { lock: 'share' });
        if (
          !user ||
          user.disabled ||
          user.password_hash !== login.passwordHash ||
          Number(user.sessions_epoch) !== login.sessionsEpoch
        ) {
          return false;
        }
        await trx.insertInto('sessions').values(session).execute();
        if (tokenHash !== undefined) {
          await trx
            .insertInto('refresh_tokens')
            .values({ token_hash: tokenHash, session_id: session.id, created_at: session.created_at })
            .execute();
        }
        await insertAuditEvents(trx, events);
        return true;
      }),

    /** A refresh token with its session, the session's user, and whether its successor is spent. */
    findToken: (tokenHash: string) =>
      db
        .selectFrom('refresh_tokens')
        .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
        .innerJoin('users', 'users.id', 'sessions.user_id')
        .leftJoin('refresh_tokens as successor', 'successor.token_hash', 'refresh_tokens.successor_hash')
        .select([
          'refresh_tokens.token_hash',
          'refresh_tokens.spent_at',
          'refresh_tokens.successor_hash',
          'successor.spent_at as successor_spent_at',
          'sessions.id as session_id',
          'sessions.scope',
          'sessions.last_used_at',
          'sessions.expires_at',
          'sessions.revoked_at',
          'sessions.client_id',
          'sessions.auth_time',
          'sessions.amr',
          'sessions.created_at',
          'users.id as user_id',
          'users.username',
          'users.role',
          'users.disabled',
          'users.email_verified',
        ])
        .where('refresh_tokens.token_hash', '=', tokenHash)
        .executeTakeFirst(),

    /**
     * Rotation, in one transaction: spend the parent (only if nobody has yet), store the child, touch
     * the session. False when another request spent the parent first.
     */
    rotate: (input: { parentHash: string; childHash: string; sessionId: string; now: Date }) =>
      db.transaction().execute(async (trx) => {
        const spent = await trx
          .updateTable('refresh_tokens')
          .set({ spent_at: input.now, successor_hash: input.childHash })
          .where('token_hash', '=', input.parentHash)
          .where('spent_at', 'is', null)
          .executeTakeFirst();
        if (Number(spent.numUpdatedRows) !== 1) return false;
        await trx
          .insertInto('refresh_tokens')
          .values({ token_hash: input.childHash, session_id: input.sessionId, created_at: input.now })
          .execute();
        await trx
          .updateTable('sessions')
          .set({ last_used_at: input.now })
          .where('id', '=', input.sessionId)
          .execute();
        return true;
      }),

    /**
     * Marks the session revoked (if it was not already) and stores the events `eventsFor` makes for its
     * user, in one transaction. Answers the user's id when this call revoked it.
     */
    revoke: (
      sessionId: string,
      reason: string,
      now: Date,
      eventsFor: (userId: string) => readonly NewAuditEvent[] = () => [],
    ): Promise<string | undefined> =>
      db.transaction().execute(async (trx) => {
        const revoked = await trx
          .updateTable('sessions')
          .set({ revoked_at: now, revoked_reason: reason })
          .where('id', '=', sessionId)
          .where('revoked_at', 'is', null)
          .returning('user_id')
          .executeTakeFirst();
        if (revoked) await insertAuditEvents(trx, eventsFor(revoked.user_id));
        return revoked?.user_id;
      }),

    /**
     * Revokes every session of the user, but the one named in `except`, and bumps the user's
     * sessions_epoch so that a login already under way creates none (the users row is written first:
     * a racing login's transaction either commits before, and its session is revoked here, or sees
     * the new epoch).
     * `eventsFor` makes the events stored with it, from the ids revoked; the ids are returned.
     */
    revokeAllOfUser: (
      userId: string,
      reason: string,
      now: Date,
      options: {
        except?: string | undefined;
        eventsFor?: (revoked: readonly string[]) => readonly NewAuditEvent[];
        /** The caller's transaction (a password change): both commit, or neither. Default: one of its own. */
        within?: Kysely<Database>;
      } = {},
    ): Promise<string[]> => {
      const work = async (trx: Kysely<Database>) => {
        await usersIn(trx).bumpSessionsEpoch(userId);
        let query = trx
          .updateTable('sessions')
          .set({ revoked_at: now, revoked_reason: reason })
          .where('user_id', '=', userId)
          .where('revoked_at', 'is', null);
        if (options.except !== undefined) query = query.where('id', '<>', options.except);
        const revoked = (await query.returning('id').execute()).map((row) => row.id);
        await insertAuditEvents(trx, options.eventsFor?.(revoked) ?? []);
        return revoked;
      };
      return options.within ? work(options.within) : db.transaction().execute(work);
    },

    /**
     * Revokes every live session of the client (all users), inside `trx`: the transaction of the
     * client's deletion. The first-party client's sessions from before clients (null) are never its.
     */
    revokeAllOfClient: async (
      trx: Kysely<Database>,
      clientId: string,
      reason: string,
      now: Date,
      /** Only this user's (a consent withdrawn); every user's by default (the client deleted). */
      userId?: string,
    ): Promise<Array<{ id: string; user_id: string }>> => {
      let query = trx
        .updateTable('sessions')
        .set({ revoked_at: now, revoked_reason: reason })
        .where('client_id', '=', clientId)
        .where('revoked_at', 'is', null);
      if (userId !== undefined) query = query.where('user_id', '=', userId);
      return query.returning(['id', 'user_id']).execute();
    },

    /** A browser session by its cookie secret's hash, with whether its user may still sign in. */
    findBrowser: (secretHash: string) =>
      db
        .selectFrom('sessions')
        .innerJoin('users', 'users.id', 'sessions.user_id')
        .select([
          'sessions.id',
          'sessions.user_id',
          'sessions.auth_time',
          'sessions.amr',
          'sessions.created_at',
          'sessions.expires_at',
          'sessions.revoked_at',
          'users.username',
          'users.role',
          'users.disabled',
          'users.email_verified',
          'users.password_hash',
          'users.sessions_epoch',
          'users.mfa_totp',
          'users.mfa_passkeys',
        ])
        .where('sessions.secret_hash', '=', secretHash)
        .where('sessions.kind', '=', 'browser')
        .executeTakeFirst(),

    /** Whether the session is unrevoked, read inside `trx` (a change that must not outlive it). */
    standsIn: async (trx: Kysely<Database>, sessionId: string): Promise<boolean> => {
      const row = await trx
        .selectFrom('sessions')
        .select('revoked_at')
        .where('id', '=', sessionId)
        .executeTakeFirst();
      return row !== undefined && row.revoked_at === null;
    },

    /** Sessions not revoked and not past their absolute end; the idle rule is applied by the caller. */
    listUnrevoked: (userId: string, now: Date) =>
      db
        .selectFrom('sessions')
        .selectAll()
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now)
        .orderBy('created_at', 'desc')
        .limit(1000)
        .execute(),

    /** What the guard needs to know about an access token's session and its user: one indexed query. */
    state: async (sessionId: string) => {
      const { rows } = await db.executeQuery<StateRow>(CompiledQuery.raw(stateSql, [sessionId]));
      return rows[0];
    },

    /**
     * Deletes sessions that ended (revoked, past their absolute or idle end) more than a day ago —
     * their refresh tokens go with them — and spent refresh tokens older than the idle period: a
     * replay of one of those is then an unknown token (invalid_grant) rather than a detected reuse.
     */
    purge: async (now: Date, idleSeconds: number): Promise<{ sessions: number; refreshTokens: number }> => {
      const BATCH = 500;
      const endedBefore = new Date(now.getTime() - DAY_MS);
      const idleBefore = new Date(endedBefore.getTime() - idleSeconds * 1000);
      const spentBefore = new Date(now.getTime() - idleSeconds * 1000);
      const sessions = await deleteInBatches(async () => {
        const result = await db
          .deleteFrom('sessions')
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('sessions')
              .select('id')
              .where((w) =>
                w.or([
                  w('expires_at', '<', endedBefore),
                  w('revoked_at', '<', endedBefore),
                  w('last_used_at', '<', idleBefore),
                ]),
              )
              .limit(BATCH),
          )
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      }, BATCH);
      const refreshTokens = await deleteInBatches(async () => {
        const result = await db
          .deleteFrom('refresh_tokens')
          .where('token_hash', 'in', (eb) =>
            eb
              .selectFrom('refresh_tokens')
              .select('token_hash')
              .where('spent_at', '<', spentBefore)
              .limit(BATCH),
          )
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      }, BATCH);
      return { sessions, refreshTokens };
    },
  };
}
