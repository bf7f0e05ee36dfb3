import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { usersIn } from '../accounts/repository.ts';
import { isPostgres } from '../db/dialect.ts';
import type { AccountTokensTable, Database, UserRow } from '../db/schema.ts';

export type TokenPurpose = AccountTokensTable['purpose'];

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

/** Which password a token was issued against, without keeping the hash a second time. */
const passwordFingerprint = (passwordHash: string) => sha256(`inkgate:password:${passwordHash}`);

/**
 * The one-time tokens of mail links: 256 random bits, stored only as SHA-256, bound to a purpose, a
 * user, the address they were sent to and (for resets) the password they were issued against.
 */
export function createAccountTokens(db: Kysely<Database>) {
  return {
    /**
     * A new token, written with `executor` (the transaction that sends it). Older tokens of the same
     * purpose for the user are deleted: only the newest link works.
     */
    async issue(
      executor: Kysely<Database>,
      input: {
        purpose: TokenPurpose;
        user: UserRow;
        now: Date;
        ttlSeconds: number;
        /** Where the link goes: the user's address, or the pending one it is to confirm. */
        email?: string;
      },
    ): Promise<string> {
      const token = randomBytes(32).toString('base64url');
      await executor
        .deleteFrom('account_tokens')
        .where('user_id', '=', input.user.id)
        .where('purpose', '=', input.purpose)
        .execute();
      await executor
        .insertInto('account_tokens')
        .values({
          token_hash: sha256(token),
          purpose: input.purpose,
          user_id: input.user.id,
          email: input.email ?? input.user.email,
          password_fingerprint: passwordFingerprint(input.user.password_hash),
          created_at: input.now,
          expires_at: new Date(input.now.getTime() + input.ttlSeconds * 1000),
        })
        .execute();
      return token;
    },

    /**
     * The user a token is good for right now, or undefined: unknown, spent, expired, of another
     * purpose, or void because the address (or, for a reset, the password) changed since.
     */
    check: (token: string, purpose: TokenPurpose, now: Date): Promise<LinkHolder | undefined> =>
      goodFor(db, token, purpose, now),

    /**
     * Spends the token with `executor` (the transaction of the change it allows) and answers the user
     * it was good for — checked again inside that transaction, with the rows locked on PostgreSQL, so
     * a password or address that changed since `check` voids it — or undefined, with nothing changed.
     * Exactly one caller gets the user: a link clicked twice at once changes things once. Every token
     * of its purpose for the user goes with it.
     */
    async spend(
      executor: Kysely<Database>,
      token: string,
      purpose: TokenPurpose,
      now: Date,
    ): Promise<LinkHolder | undefined> {
      const user = await goodFor(executor, token, purpose, now, { lock: true });
      if (!user) return undefined;
      const spent = await executor
        .deleteFrom('account_tokens')
        .where('token_hash', '=', sha256(token))
        .where('purpose', '=', purpose)
        .executeTakeFirst();
      if (Number(spent.numDeletedRows) !== 1) return undefined;
      await executor
        .deleteFrom('account_tokens')
        .where('user_id', '=', user.id)
        .where('purpose', '=', purpose)
        .execute();
      return user;
    },

    /** Deletes expired tokens (the hourly purge). */
    purge: async (now: Date): Promise<number> => {
      const result = await db.deleteFrom('account_tokens').where('expires_at', '<', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

export type AccountTokens = ReturnType<typeof createAccountTokens>;

/** The user a link is good for, and the address it was sent to (theirs, or the pending one). */
export type LinkHolder = UserRow & { readonly sent_to: string };

/** The one rule of a good link, read with `executor`; `lock` holds the rows until its transaction ends. */
async function goodFor(
  executor: Kysely<Database>,
  token: string,
  purpose: TokenPurpose,
  now: Date,
  options: { lock?: boolean } = {},
): Promise<LinkHolder | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const readLink = (lock: boolean) => {
    let query = executor
      .selectFrom('account_tokens')
      .select(['user_id', 'email', 'password_fingerprint', 'expires_at', 'purpose'])
      .where('token_hash', '=', sha256(token));
    if (lock && isPostgres(executor)) query = query.forUpdate();
    return query.executeTakeFirst();
  };
  let link = await readLink(false);
  if (!link) return undefined;
  // The holder through the accounts' own queries, in the same transaction. Locked before the link, in
  // the order every account change takes them (the user, then its links), so none waits on the other.
  const user = await usersIn(executor).findById(link.user_id, options.lock ? { lock: 'update' } : {});
  if (options.lock) link = await readLink(true);
  if (!user || !link || link.purpose !== purpose || now >= link.expires_at) return undefined;
  // Sent to the account's address, or — a verification only — to the address pending for it now.
  const toPending = purpose === 'email_verification' && link.email === user.pending_email;
  if (link.email !== user.email && !toPending) return undefined;
  if (purpose === 'password_reset' && link.password_fingerprint !== passwordFingerprint(user.password_hash))
    return undefined;
  return { ...user, sent_to: link.email };
}
