import type { Kysely } from 'kysely';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Clock } from '../clock.ts';
import type { Database, NewAuditEvent } from '../db/schema.ts';
import type { AccessTokens } from './access-tokens.ts';
import type { SessionCache } from './cache.ts';
import type { SessionsRepository } from './repository.ts';
import { hashToken } from './rotation.ts';

/**
 * Ending sessions: one, a user's, a client's, by a token (RFC 7009). The database first, then this
 * instance's cache (and, through Redis, every other's).
 */
export function createRevocation(deps: {
  repository: SessionsRepository;
  cache: SessionCache;
  audit: AuditTrail;
  clock: Clock;
  tokens: AccessTokens;
  firstPartyClientId: string;
}) {
  const { repository, cache, audit, clock, tokens } = deps;

  /**
   * Ends every session of the user but `except` inside `trx`, the transaction of the change that
   * requires it (a password change or reset: if either fails, neither happened). Answers what to do
   * once that transaction has committed: publish the event and drop the cached sessions — before the
   * commit, a request could cache the old state again.
   */
  async function revokeAllOfUserWithin(
    trx: Kysely<Database> | undefined,
    userId: string,
    reason: string,
    options: { except?: string | undefined; facts?: AuditFacts } = {},
  ): Promise<() => void> {
    let events: NewAuditEvent[] = [];
    await repository.revokeAllOfUser(userId, reason, clock.now(), {
      except: options.except,
      within: trx,
      eventsFor: (revoked) => {
        events = [
          audit.event('sessions_revoked_all', {
            ...options.facts,
            userId,
            details: { reason, sessions: revoked.length },
          }),
        ];
        return events;
      },
    });
    return () => {
      audit.published(events);
      cache.forgetUser(userId);
    };
  }

  /**
   * Ends every session of the client, for every user, inside `trx` (the client's deletion); answers
   * what to do once it commits: drop the cached sessions here and, through Redis, everywhere.
   */
  async function revokeAllOfClientWithin(
    trx: Kysely<Database>,
    clientId: string,
    reason: string,
    /** Only this user's sessions of the client (a consent withdrawn); all by default. */
    userId?: string,
  ): Promise<{ sessions: number; committed: () => void }> {
    const revoked = await repository.revokeAllOfClient(trx, clientId, reason, clock.now(), userId);
    return {
      sessions: revoked.length,
      committed: () => {
        for (const session of revoked) cache.forgetSession(session.id);
      },
    };
  }

  /** Ends one session, recording session_revoked (with why) when it was live. */
  async function revoke(sessionId: string, reason: string, facts: AuditFacts): Promise<void> {
    let events: NewAuditEvent[] = [];
    const revokedFor = await repository.revoke(sessionId, reason, clock.now(), (userId) => {
      events = [audit.event('session_revoked', { ...facts, userId, sessionId, details: { reason } })];
      return events;
    });
    if (revokedFor !== undefined) audit.published(events);
    cache.forgetSession(sessionId);
  }

  /** RFC 7009: either kind of token revokes its session; anything else is quietly ignored. */
  async function revokeToken(
    token: string,
    hint: string | undefined,
    facts: AuditFacts,
    /** The client asking (authenticated when confidential): only its own sessions end (RFC 7009 §2.1). */
    clientId: string,
  ): Promise<void> {
    const ownedBy = async (sessionId: string) => {
      const row = await repository.state(sessionId);
      return row !== undefined && (row.client_id ?? deps.firstPartyClientId) === clientId;
    };
    const asRefresh = async () => {
      const row = await repository.findToken(hashToken(token));
      if (row && (row.client_id ?? deps.firstPartyClientId) === clientId) {
        await revoke(row.session_id, 'revoked_by_client', facts);
      }
      return row !== undefined;
    };
    const asAccess = async () => {
      const sessionId = await tokens.sessionOf(token);
      if (sessionId && (await ownedBy(sessionId))) await revoke(sessionId, 'revoked_by_client', facts);
      return sessionId !== undefined;
    };
    const order = hint === 'access_token' ? [asAccess, asRefresh] : [asRefresh, asAccess];
    for (const attempt of order) if (await attempt()) return;
  }

  /** Ends every session of the user but `except`, recorded as one sessions_revoked_all event. */
  async function revokeAllOfUser(
    userId: string,
    reason: string,
    options: { except?: string | undefined; facts?: AuditFacts } = {},
  ): Promise<void> {
    (await revokeAllOfUserWithin(undefined, userId, reason, options))();
  }

  return { revoke, revokeToken, revokeAllOfUser, revokeAllOfUserWithin, revokeAllOfClientWithin };
}
