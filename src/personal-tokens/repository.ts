import type { Kysely } from 'kysely';
import { ACCOUNT_COLUMNS, usersIn } from '../accounts/repository.ts';
import { insertAuditEvents } from '../audit/repository.ts';
import { DAY_MS } from '../clock.ts';
import { deleteInBatches } from '../db/scheduled-jobs.ts';
import type { Database, NewAuditEvent } from '../db/schema.ts';

export type PersonalTokensRepository = ReturnType<typeof createPersonalTokensRepository>;

/** What a new token is stored with: only its hash, never the token. */
export interface NewPersonalToken {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly scopes: string;
  readonly tokenHash: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

/** Personal access tokens: the personal_tokens table, and nothing else of it is read or written elsewhere. */
export function createPersonalTokensRepository(db: Kysely<Database>) {
  const live = (userId: string, now: Date) =>
    db
      .selectFrom('personal_tokens')
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now);

  return {
    /**
     * Stores the token and `events` in one transaction that first locks the user's row (FOR UPDATE on
     * PostgreSQL; SQLite runs one writer at a time), so that two creations cannot both pass the cap
     * and a password reset or a disable either waits for it (and then revokes it) or ran before it.
     * `stillAllowed` re-checks, inside, that the request's own sign-in was not ended meanwhile.
     */
    create: (
      token: NewPersonalToken,
      options: { max: number; stillAllowed: (trx: Kysely<Database>) => Promise<boolean> },
      events: readonly NewAuditEvent[],
    ): Promise<'created' | 'refused' | 'limit'> =>
      db.transaction().execute(async (trx) => {
        const user = await usersIn(trx).findById(token.userId, { lock: 'update' });
        if (!user || user.disabled || !(await options.stillAllowed(trx))) return 'refused';
        const { count } = await trx
          .selectFrom('personal_tokens')
          .select((eb) => eb.fn.countAll<number | string>().as('count'))
          .where('user_id', '=', token.userId)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', token.createdAt)
          .executeTakeFirstOrThrow();
        if (Number(count) >= options.max) return 'limit';
        await trx
          .insertInto('personal_tokens')
          .values({
            id: token.id,
            user_id: token.userId,
            name: token.name,
            scopes: token.scopes,
            token_hash: token.tokenHash,
            created_at: token.createdAt,
            expires_at: token.expiresAt,
          })
          .execute();
        await insertAuditEvents(trx, events);
        return 'created';
      }),

    /** The user's live tokens, newest first (there are at most `max` of them). */
    list: (userId: string, now: Date, max: number) =>
      live(userId, now)
        .select(['id', 'name', 'scopes', 'created_at', 'last_used_at', 'expires_at'])
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(max)
        .execute(),

    /**
     * Revokes one of the user's live tokens with the events `eventsFor` makes for it, in one
     * transaction; answers its hash (for the session cache), or undefined when it is none of theirs.
     */
    revoke: (
      userId: string,
      id: string,
      now: Date,
      eventsFor: (row: { name: string }) => readonly NewAuditEvent[],
    ): Promise<string | undefined> =>
      db.transaction().execute(async (trx) => {
        const revoked = await trx
          .updateTable('personal_tokens')
          .set({ revoked_at: now, revoked_reason: 'revoked' })
          .where('id', '=', id)
          .where('user_id', '=', userId)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', now)
          .returning(['token_hash', 'name'])
          .executeTakeFirst();
        if (revoked) await insertAuditEvents(trx, eventsFor(revoked));
        return revoked?.token_hash;
      }),

    /** Revokes every live token of the user inside `trx` (a password reset's, a disable's); answers their ids and hashes. */
    revokeAllOfUser: (trx: Kysely<Database>, userId: string, reason: string, now: Date) =>
      trx
        .updateTable('personal_tokens')
        .set({ revoked_at: now, revoked_reason: reason })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now)
        .returning(['id', 'token_hash'])
        .execute(),

    /** What the guard needs on a session-cache miss: the token and its user, one indexed query. */
    state: (tokenHash: string) =>
      db
        .selectFrom('personal_tokens')
        .innerJoin('users', 'users.id', 'personal_tokens.user_id')
        .select([
          'personal_tokens.id',
          'personal_tokens.user_id',
          'personal_tokens.scopes',
          'personal_tokens.created_at as token_created_at',
          'personal_tokens.last_used_at',
          'personal_tokens.expires_at',
          'personal_tokens.revoked_at',
          ...ACCOUNT_COLUMNS,
        ])
        .where('personal_tokens.token_hash', '=', tokenHash)
        .executeTakeFirst(),

    /** Records a use, unless one was recorded since `since` (at most one write per token and interval). */
    touch: (id: string, now: Date, since: Date) =>
      db
        .updateTable('personal_tokens')
        .set({ last_used_at: now })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', since)]))
        .execute(),

    /** Deletes tokens that ended (expired or revoked) more than a day ago. */
    purge: (now: Date): Promise<number> => {
      const BATCH = 500;
      const endedBefore = new Date(now.getTime() - DAY_MS);
      return deleteInBatches(async () => {
        const result = await db
          .deleteFrom('personal_tokens')
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('personal_tokens')
              .select('id')
              .where((w) => w.or([w('expires_at', '<', endedBefore), w('revoked_at', '<', endedBefore)]))
              .limit(BATCH),
          )
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      }, BATCH);
    },
  };
}
