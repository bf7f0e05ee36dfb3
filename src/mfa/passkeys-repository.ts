import type { Kysely } from 'kysely';
import { usersIn } from '../accounts/repository.ts';
import { insertAuditEvents } from '../audit/repository.ts';
import type { Database, NewAuditEvent, PasskeyRow, UserRow } from '../db/schema.ts';
import { lockedUser, replaceRecoveryCodes } from './repository.ts';

export type PasskeysRepository = ReturnType<typeof createPasskeysRepository>;

/** A user may hold this many passkeys: enough for every device, and a bound on rows. */
export const MAX_PASSKEYS = 20;

/** Passkeys and their WebAuthn challenges (the passkeys and webauthn_challenges tables). */
export function createPasskeysRepository(db: Kysely<Database>) {
  return {
    /** A challenge waiting for its response, until `expiresAt`. */
    addChallenge: async (
      challenge: string,
      purpose: 'register' | 'sign_in',
      userId: string | null,
      expiresAt: Date,
    ) => {
      await db
        .insertInto('webauthn_challenges')
        .values({ challenge, purpose, user_id: userId, expires_at: expiresAt })
        .execute();
    },

    /** Spends a challenge of this purpose (and user, or none) that has not expired: true once. */
    takeChallenge: async (
      challenge: string,
      purpose: 'register' | 'sign_in',
      userId: string | null,
      now: Date,
    ): Promise<boolean> => {
      let query = db
        .deleteFrom('webauthn_challenges')
        .where('challenge', '=', challenge)
        .where('purpose', '=', purpose)
        .where('expires_at', '>', now);
      query = userId === null ? query.where('user_id', 'is', null) : query.where('user_id', '=', userId);
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    purgeChallenges: async (now: Date): Promise<number> => {
      const result = await db
        .deleteFrom('webauthn_challenges')
        .where('expires_at', '<', now)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    list: (userId: string): Promise<PasskeyRow[]> =>
      db
        .selectFrom('passkeys')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at', 'desc')
        .limit(MAX_PASSKEYS)
        .execute(),

    byCredential: (credentialId: string): Promise<PasskeyRow | undefined> =>
      db.selectFrom('passkeys').selectAll().where('credential_id', '=', credentialId).executeTakeFirst(),

    /**
     * Stores a new passkey and counts it on the users row, in one transaction with `events` and
     * `within`; the account's first factor also gets `recoveryHashes`. Undefined when the user is
     * gone or holds MAX_PASSKEYS already.
     */
    add: (
      passkey: Omit<PasskeyRow, 'last_used_at' | 'counter'> & { counter: number },
      recoveryHashes: readonly string[],
      events: (first: boolean) => readonly NewAuditEvent[],
      within: (trx: Kysely<Database>, user: UserRow) => Promise<void>,
    ): Promise<{ first: boolean } | undefined> =>
      db.transaction().execute(async (trx) => {
        const user = await lockedUser(trx, passkey.user_id);
        if (!user || Number(user.mfa_passkeys) >= MAX_PASSKEYS) return undefined;
        const first = !user.mfa_totp && Number(user.mfa_passkeys) === 0;
        await trx.insertInto('passkeys').values(passkey).execute();
        await usersIn(trx).setMfaFactors(user.id, { passkeys: Number(user.mfa_passkeys) + 1 });
        if (first) await replaceRecoveryCodes(trx, user.id, recoveryHashes, passkey.created_at);
        await insertAuditEvents(trx, events(first));
        await within(trx, user);
        return { first };
      }),

    rename: async (userId: string, id: string, name: string): Promise<PasskeyRow | undefined> =>
      db
        .updateTable('passkeys')
        .set({ name })
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .returningAll()
        .executeTakeFirst(),

    /** Removes one of the user's passkeys; the recovery codes go with the last factor. */
    remove: (
      userId: string,
      id: string,
      events: readonly NewAuditEvent[],
      within: (trx: Kysely<Database>, user: UserRow) => Promise<void>,
    ): Promise<boolean> =>
      db.transaction().execute(async (trx) => {
        const user = await lockedUser(trx, userId);
        if (!user) return false;
        const removed = await trx
          .deleteFrom('passkeys')
          .where('id', '=', id)
          .where('user_id', '=', userId)
          .executeTakeFirst();
        if (Number(removed.numDeletedRows) !== 1) return false;
        const left = Math.max(0, Number(user.mfa_passkeys) - 1);
        await usersIn(trx).setMfaFactors(userId, { passkeys: left });
        if (left === 0 && !user.mfa_totp) await replaceRecoveryCodes(trx, userId, [], new Date(0));
        await insertAuditEvents(trx, events);
        await within(trx, user);
        return true;
      }),

    /**
     * A use: the authenticator's new counter (only forward: a cloned authenticator replaying an old
     * count loses the race), its backup state, when. False when another use moved the counter first.
     */
    used: async (
      row: PasskeyRow,
      update: { counter: number; backedUp: boolean; now: Date },
    ): Promise<boolean> => {
      const result = await db
        .updateTable('passkeys')
        .set({ counter: update.counter, backed_up: update.backedUp, last_used_at: update.now })
        .where('id', '=', row.id)
        .where('counter', '=', Number(row.counter))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}
