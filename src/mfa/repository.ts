import type { Kysely } from 'kysely';
import { usersIn } from '../accounts/repository.ts';
import { insertAuditEvents } from '../audit/repository.ts';
import type { Database, NewAuditEvent, UserRow } from '../db/schema.ts';

export type MfaRepository = ReturnType<typeof createMfaRepository>;

/** Work done inside a change's transaction once it is sure to happen (its notice, written to the outbox). */
type Within = (trx: Kysely<Database>, user: UserRow) => Promise<void>;

/** A user's recovery codes become `hashes` (none: the set is gone), inside the change's transaction. */
export async function replaceRecoveryCodes(
  trx: Kysely<Database>,
  userId: string,
  hashes: readonly string[],
  now: Date,
): Promise<void> {
  await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
  if (hashes.length === 0) return;
  await trx
    .insertInto('mfa_recovery_codes')
    .values(hashes.map((code_hash) => ({ code_hash, user_id: userId, created_at: now })))
    .execute();
}

/** The user's row, locked until the transaction ends (PostgreSQL; SQLite runs one writer at a time). */
export const lockedUser = (trx: Kysely<Database>, userId: string) =>
  usersIn(trx).findById(userId, { lock: 'update' });

/**
 * The second-factor tables (mfa_totp, mfa_recovery_codes; passkeys and their challenges in
 * passkeys.ts), and the users row's summary of them, always changed in the same transaction.
 */
export function createMfaRepository(db: Kysely<Database>) {
  return {
    totp: (userId: string) =>
      db.selectFrom('mfa_totp').selectAll().where('user_id', '=', userId).executeTakeFirst(),

    /** A new enrolment waiting for its first code (replacing one still waiting); false when one is confirmed. */
    startTotp: (userId: string, sealedSecret: string, now: Date): Promise<boolean> =>
      db.transaction().execute(async (trx) => {
        if (!(await lockedUser(trx, userId))) return false;
        const current = await trx
          .selectFrom('mfa_totp')
          .select('confirmed_at')
          .where('user_id', '=', userId)
          .executeTakeFirst();
        if (current?.confirmed_at) return false;
        await trx.deleteFrom('mfa_totp').where('user_id', '=', userId).execute();
        await trx
          .insertInto('mfa_totp')
          .values({ user_id: userId, secret_sealed: sealedSecret, created_at: now })
          .execute();
        return true;
      }),

    /**
     * Confirms the waiting enrolment with the step of its first code (that code is then spent). When
     * it is the account's first factor, `recoveryHashes` become its recovery codes. Answers undefined
     * when nothing was waiting (confirmed meanwhile, or never started).
     */
    confirmTotp: (
      userId: string,
      step: number,
      now: Date,
      recoveryHashes: readonly string[],
      events: (first: boolean) => readonly NewAuditEvent[],
      within: Within,
    ): Promise<{ first: boolean } | undefined> =>
      db.transaction().execute(async (trx) => {
        const user = await lockedUser(trx, userId);
        if (!user) return undefined;
        const confirmed = await trx
          .updateTable('mfa_totp')
          .set({ confirmed_at: now, last_step: step })
          .where('user_id', '=', userId)
          .where('confirmed_at', 'is', null)
          .executeTakeFirst();
        if (Number(confirmed.numUpdatedRows) !== 1) return undefined;
        const first = !user.mfa_totp && Number(user.mfa_passkeys) === 0;
        await usersIn(trx).setMfaFactors(userId, { totp: true });
        if (first) await replaceRecoveryCodes(trx, userId, recoveryHashes, now);
        await insertAuditEvents(trx, events(first));
        await within(trx, user);
        return { first };
      }),

    /**
     * RFC 6238 §5.2: accepts a code of `step` only if no code of it or a later step was accepted, in one
     * conditional update (atomic on both engines: of two requests with one code, one wins).
     */
    acceptTotpStep: async (userId: string, step: number): Promise<boolean> => {
      const result = await db
        .updateTable('mfa_totp')
        .set({ last_step: step })
        .where('user_id', '=', userId)
        .where('confirmed_at', 'is not', null)
        .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Removes the confirmed TOTP factor; the recovery codes go too when no factor is left. False when there was none. */
    removeTotp: (userId: string, events: readonly NewAuditEvent[], within: Within): Promise<boolean> =>
      db.transaction().execute(async (trx) => {
        const user = await lockedUser(trx, userId);
        if (!user) return false;
        const removed = await trx
          .deleteFrom('mfa_totp')
          .where('user_id', '=', userId)
          .where('confirmed_at', 'is not', null)
          .executeTakeFirst();
        if (Number(removed.numDeletedRows) !== 1) return false;
        await usersIn(trx).setMfaFactors(userId, { totp: false });
        if (Number(user.mfa_passkeys) === 0) await replaceRecoveryCodes(trx, userId, [], new Date(0));
        await insertAuditEvents(trx, events);
        await within(trx, user);
        return true;
      }),

    /** A new set of recovery codes, the old one void; false when the account has no factor to recover. */
    renewRecoveryCodes: (
      userId: string,
      hashes: readonly string[],
      now: Date,
      events: readonly NewAuditEvent[],
      within: Within,
    ): Promise<boolean> =>
      db.transaction().execute(async (trx) => {
        const user = await lockedUser(trx, userId);
        if (!user || (!user.mfa_totp && Number(user.mfa_passkeys) === 0)) return false;
        await replaceRecoveryCodes(trx, userId, hashes, now);
        await insertAuditEvents(trx, events);
        await within(trx, user);
        return true;
      }),

    /** Spends one recovery code, once (one conditional update), with `events` and `within`. */
    spendRecoveryCode: (
      userId: string,
      hash: string,
      now: Date,
      events: readonly NewAuditEvent[],
      within: Within,
    ): Promise<boolean> =>
      db.transaction().execute(async (trx) => {
        const spent = await trx
          .updateTable('mfa_recovery_codes')
          .set({ used_at: now })
          .where('code_hash', '=', hash)
          .where('user_id', '=', userId)
          .where('used_at', 'is', null)
          .executeTakeFirst();
        if (Number(spent.numUpdatedRows) !== 1) return false;
        const user = await usersIn(trx).findById(userId);
        if (!user) return false;
        await insertAuditEvents(trx, events);
        await within(trx, user);
        return true;
      }),

    recoveryCodesLeft: async (userId: string): Promise<number> => {
      const { count } = await db
        .selectFrom('mfa_recovery_codes')
        .select((eb) => eb.fn.countAll<number | string>().as('count'))
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(count);
    },

    /** An admin's recovery of the account: every factor and recovery code goes. False for no such user. */
    resetAll: (userId: string, events: readonly NewAuditEvent[], within: Within): Promise<boolean> =>
      db.transaction().execute(async (trx) => {
        const user = await lockedUser(trx, userId);
        if (!user) return false;
        for (const table of ['mfa_totp', 'mfa_recovery_codes', 'passkeys', 'webauthn_challenges'] as const) {
          await trx.deleteFrom(table).where('user_id', '=', userId).execute();
        }
        await usersIn(trx).setMfaFactors(userId, { totp: false, passkeys: 0 });
        await insertAuditEvents(trx, events);
        await within(trx, user);
        return true;
      }),
  };
}
