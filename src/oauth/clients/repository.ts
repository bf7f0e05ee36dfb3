import type { Kysely } from 'kysely';
import { withAuditEvents } from '../../audit/repository.ts';
import type { Cursor } from '../../db/cursor.ts';
import { olderThan } from '../../db/keyset.ts';
import type { Database, NewAuditEvent, OAuthClientRow, OAuthClientsTable } from '../../db/schema.ts';

export type ClientsRepository = ReturnType<typeof createClientsRepository>;

type ClientChanges = Partial<
  Pick<OAuthClientsTable, 'name' | 'redirect_uris' | 'scopes' | 'first_party' | 'secret_hash' | 'type'>
>;

/** The oauth_clients rows. Undefined for "not there"; never throws HTTP errors. */
export function createClientsRepository(db: Kysely<Database>) {
  return {
    ...clientQueries(db),
    /** Runs `work` in one transaction: a change and what it ends (sessions, events) commit together. */
    inTransaction: <T>(work: (clients: ClientQueries, trx: Kysely<Database>) => Promise<T>): Promise<T> =>
      db.transaction().execute((trx) => work(clientQueries(trx), trx)),
  };
}

type ClientQueries = ReturnType<typeof clientQueries>;

function clientQueries(db: Kysely<Database>) {
  return {
    findByClientId: (clientId: string): Promise<OAuthClientRow | undefined> =>
      db.selectFrom('oauth_clients').selectAll().where('client_id', '=', clientId).executeTakeFirst(),

    /** Newest first, keyset-paged on (created_at, id). */
    list: (after: Cursor | undefined, limit: number): Promise<OAuthClientRow[]> => {
      let query = db.selectFrom('oauth_clients').selectAll();
      if (after) query = query.where(olderThan(after, 'created_at', 'id'));
      return query
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
    },

    insert: (client: OAuthClientRow, events: readonly NewAuditEvent[]): Promise<OAuthClientRow> =>
      withAuditEvents(db, events, (trx) =>
        trx.insertInto('oauth_clients').values(client).returningAll().executeTakeFirstOrThrow(),
      ),

    /** Changes the client (none when there is no such client), with `events` in the same transaction. */
    update: (
      clientId: string,
      changes: ClientChanges & { updated_at: Date },
      events: readonly NewAuditEvent[] = [],
    ): Promise<OAuthClientRow | undefined> =>
      withAuditEvents(db, events, (trx) =>
        trx
          .updateTable('oauth_clients')
          .set(changes)
          .where('client_id', '=', clientId)
          .returningAll()
          .executeTakeFirst(),
      ),

    remove: (clientId: string, events: readonly NewAuditEvent[]): Promise<boolean> =>
      withAuditEvents(db, events, async (trx) => {
        // The consents to it go with it: a client registered again later starts with none.
        await trx.deleteFrom('oauth_consents').where('client_id', '=', clientId).execute();
        const result = await trx
          .deleteFrom('oauth_clients')
          .where('client_id', '=', clientId)
          .executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      }),
  };
}
