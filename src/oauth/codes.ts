import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { type Clock, DAY_MS } from '../clock.ts';
import type { AuthorizationCodesTable, Database } from '../db/schema.ts';

/** RFC 6749 §4.1.2 and RFC 9700 §4.2.1: a code lives a minute at most, and is good once. */
const CODE_TTL_MS = 60_000;

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

/** RFC 7636 §4.6: the verifier's S256 against the stored challenge. */
export const s256 = (verifier: string): string => sha256(verifier);

type CodeRow = Selectable<AuthorizationCodesTable>;

export type AuthorizationCodes = ReturnType<typeof createAuthorizationCodes>;

/** Authorization codes: 256 random bits, kept as hashes, spent once through one conditional update. */
export function createAuthorizationCodes(db: Kysely<Database>, clock: Clock) {
  return {
    async issue(grant: {
      clientId: string;
      userId: string;
      browserSessionId: string;
      redirectUri: string;
      codeChallenge: string;
      scope: string;
      authTime: Date;
      /** How the user signed in: the code's tokens say it (RFC 8176). */
      amr: readonly string[];
    }): Promise<string> {
      const code = randomBytes(32).toString('base64url');
      const now = clock.now();
      await db
        .insertInto('authorization_codes')
        .values({
          code_hash: sha256(code),
          client_id: grant.clientId,
          user_id: grant.userId,
          browser_session_id: grant.browserSessionId,
          redirect_uri: grant.redirectUri,
          code_challenge: grant.codeChallenge,
          scope: grant.scope,
          auth_time: grant.authTime,
          amr: grant.amr.join(' '),
          created_at: now,
          expires_at: new Date(now.getTime() + CODE_TTL_MS),
        })
        .execute();
      return code;
    },

    find: (code: string): Promise<CodeRow | undefined> =>
      /^[A-Za-z0-9_-]{43}$/.test(code)
        ? db
            .selectFrom('authorization_codes')
            .selectAll()
            .where('code_hash', '=', sha256(code))
            .executeTakeFirst()
        : Promise.resolve(undefined),

    /**
     * Spends the code — true for exactly one caller, however many race (one conditional update,
     * atomic on SQLite and PostgreSQL) — and records the session it becomes.
     */
    async spend(codeHash: string, sessionId: string): Promise<boolean> {
      const spent = await db
        .updateTable('authorization_codes')
        .set({ spent_at: clock.now(), session_id: sessionId })
        .where('code_hash', '=', codeHash)
        .where('spent_at', 'is', null)
        .executeTakeFirst();
      return Number(spent.numUpdatedRows) === 1;
    },
  };
}

/**
 * Deletes codes a day past their end (the hourly purge): spent ones are kept that long, so that a
 * replay within it still ends what the code issued.
 */
export async function purgeAuthorizationCodes(db: Kysely<Database>, now: Date): Promise<number> {
  const result = await db
    .deleteFrom('authorization_codes')
    .where('expires_at', '<', new Date(now.getTime() - DAY_MS))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
