import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { NewAuditEvent } from '../db/schema.ts';
import { NotFoundError } from '../http/errors.ts';
import type { SessionsService } from '../sessions/service.ts';
import type { ClientsService } from './clients/service.ts';
import type { Consents } from './consents.ts';

export interface ConnectedApp {
  readonly client_id: string;
  readonly client_name: string | null;
  readonly scopes: readonly string[];
  readonly granted_at: Date;
  readonly last_used_at: Date;
}

export type Authorizations = ReturnType<typeof createAuthorizations>;

/** The apps a user let act for them (their consents), and withdrawing one: its sessions end with it. */
export function createAuthorizations(deps: {
  consents: Consents;
  clients: ClientsService;
  sessions: SessionsService;
  audit: AuditTrail;
}) {
  const { consents, clients, sessions, audit } = deps;
  return {
    async list(userId: string): Promise<ConnectedApp[]> {
      const rows = await consents.list(userId);
      return Promise.all(
        rows.map(async (row) => ({
          client_id: row.client_id,
          client_name: (await clients.find(row.client_id))?.name ?? null,
          scopes: row.scopes.split(' ').filter(Boolean),
          granted_at: row.granted_at,
          last_used_at: row.last_used_at,
        })),
      );
    },

    /**
     * Withdraws the consent and ends every session of that client for the user, in one transaction,
     * on every instance within the revocation bound. 404 when there was neither.
     */
    async revoke(userId: string, clientId: string, facts: AuditFacts): Promise<void> {
      let events: NewAuditEvent[] = [];
      const { withdrawn, outcome } = await consents.withdraw(
        userId,
        clientId,
        (trx) => sessions.revokeAllOfClientWithin(trx, clientId, 'authorization_revoked', userId),
        (ended, withdrawn) => {
          // Nothing to withdraw and nothing ended: nothing happened, and nothing is recorded.
          if (!withdrawn && ended.sessions === 0) return [];
          events = [
            audit.event('authorization_revoked', {
              ...facts,
              userId,
              details: { client_id: clientId, sessions: ended.sessions },
            }),
          ];
          return events;
        },
      );
      if (!withdrawn && outcome.sessions === 0) {
        throw new NotFoundError('you have not authorized this client', 'authorization_not_found');
      }
      audit.published(events);
      outcome.committed();
    },
  };
}
