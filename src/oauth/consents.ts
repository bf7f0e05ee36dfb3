import type { Kysely } from 'kysely';
import { withAuditEvents } from '../audit/repository.ts';
import type { Scope } from '../authz/scopes.ts';
import type { Clock } from '../clock.ts';
import type { Database, NewAuditEvent } from '../db/schema.ts';

export type Consents = ReturnType<typeof createConsents>;

/** What each user consented to let each client do: a request within it needs no consent page again. */
export function createConsents(db: Kysely<Database>, clock: Clock) {
  const find = (userId: string, clientId: string) =>
    db
      .selectFrom('oauth_consents')
      .selectAll()
      .where('user_id', '=', userId)
      .where('client_id', '=', clientId)
      .executeTakeFirst();
  return {
    /** Whether the user already granted the client every one of `scopes`. */
    async covers(userId: string, clientId: string, scopes: readonly Scope[]): Promise<boolean> {
      const consent = await find(userId, clientId);
      if (!consent) return false;
      const granted = consent.scopes.split(' ');
      return scopes.every((scope) => granted.includes(scope));
    },

    /** Records the grant (the scopes added to any granted before) with `events`, in one transaction. */
    async grant(
      userId: string,
      clientId: string,
      scopes: readonly Scope[],
      events: readonly NewAuditEvent[],
    ): Promise<void> {
      const now = clock.now();
      const before = (await find(userId, clientId))?.scopes.split(' ').filter(Boolean) ?? [];
      const all = [...new Set([...before, ...scopes])].join(' ');
      await withAuditEvents(db, events, async (trx) => {
        await trx
          .insertInto('oauth_consents')
          .values({ user_id: userId, client_id: clientId, scopes: all, granted_at: now, last_used_at: now })
          .onConflict((oc) =>
            oc.columns(['user_id', 'client_id']).doUpdateSet({ scopes: all, last_used_at: now }),
          )
          .execute();
        return true;
      });
    },

    /** The user's consents, most recently used first. */
    list: (userId: string) =>
      db
        .selectFrom('oauth_consents')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('last_used_at', 'desc')
        .limit(1000)
        .execute(),

    /**
     * Withdraws the user's consent to the client and, through `alsoWithin`, whatever must end with it
     * (the sessions), in one transaction with `events`. False when there was no consent.
     */
    async withdraw<T>(
      userId: string,
      clientId: string,
      alsoWithin: (trx: Kysely<Database>) => Promise<T>,
      eventsFor: (outcome: T, withdrawn: boolean) => readonly NewAuditEvent[],
    ): Promise<{ withdrawn: boolean; outcome: T }> {
      return db.transaction().execute(async (trx) => {
        const deleted = await trx
          .deleteFrom('oauth_consents')
          .where('user_id', '=', userId)
          .where('client_id', '=', clientId)
          .executeTakeFirst();
        const outcome = await alsoWithin(trx);
        const withdrawn = Number(deleted.numDeletedRows) > 0;
        await withAuditEvents(trx, eventsFor(outcome, withdrawn), async () => true);
        return { withdrawn, outcome };
      });
    },

    async touch(userId: string, clientId: string): Promise<void> {
      await db
        .updateTable('oauth_consents')
        .set({ last_used_at: clock.now() })
        .where('user_id', '=', userId)
        .where('client_id', '=', clientId)
        .execute();
    },
  };
}
