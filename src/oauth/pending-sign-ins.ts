import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/schema.ts';

/** How long the second step waits after a right password. */
const PENDING_TTL_MS = 5 * 60_000;
/** API.md: five wrong codes end the attempt (the password is asked again). */
export const MAX_SECOND_STEP_FAILURES = 5;

const hash = (secret: string) => createHash('sha256').update(secret).digest('base64url');

export type PendingSignIns = ReturnType<typeof createPendingSignIns>;

/**
 * Sign-ins at the login page whose password was right and whose second factor is still to come: the
 * browser holds a random secret in a cookie, the database its hash, what the password was checked
 * against and how many wrong codes were sent.
 */
export function createPendingSignIns(db: Kysely<Database>, clock: Clock) {
  return {
    async start(input: {
      userId: string;
      passwordHash: string;
      sessionsEpoch: number;
      seenBefore: string;
    }): Promise<string> {
      const secret = randomBytes(32).toString('base64url');
      const now = clock.now();
      await db
        .insertInto('pending_sign_ins')
        .values({
          secret_hash: hash(secret),
          user_id: input.userId,
          password_hash: input.passwordHash,
          sessions_epoch: input.sessionsEpoch,
          seen_before: input.seenBefore,
          created_at: now,
          expires_at: new Date(now.getTime() + PENDING_TTL_MS),
        })
        .execute();
      return secret;
    },

    /** The live pending sign-in a cookie's secret names. */
    async find(secret: string | undefined) {
      if (secret === undefined || !/^[A-Za-z0-9_-]{43}$/.test(secret)) return undefined;
      const row = await db
        .selectFrom('pending_sign_ins')
        .selectAll()
        .where('secret_hash', '=', hash(secret))
        .executeTakeFirst();
      if (!row || clock.now() >= row.expires_at || row.failures >= MAX_SECOND_STEP_FAILURES) return undefined;
      return row;
    },

    /** One more wrong code, counted atomically; true when that was the last one allowed (it is then gone). */
    async failed(secretHash: string): Promise<boolean> {
      const row = await db
        .updateTable('pending_sign_ins')
        .set((eb) => ({ failures: eb('failures', '+', 1) }))
        .where('secret_hash', '=', secretHash)
        .returning('failures')
        .executeTakeFirst();
      if (row && row.failures < MAX_SECOND_STEP_FAILURES) return false;
      await db.deleteFrom('pending_sign_ins').where('secret_hash', '=', secretHash).execute();
      return true;
    },

    /** Spends it (the second step succeeded): false when another request did first. */
    async finish(secretHash: string): Promise<boolean> {
      const result = await db
        .deleteFrom('pending_sign_ins')
        .where('secret_hash', '=', secretHash)
        .where('failures', '<', MAX_SECOND_STEP_FAILURES)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    /** Deletes those that expired (the purge job). */
    purge: async (now: Date): Promise<number> => {
      const result = await db.deleteFrom('pending_sign_ins').where('expires_at', '<', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
