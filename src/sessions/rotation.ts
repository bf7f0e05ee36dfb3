import { createHash, createHmac } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { parseAmr } from '../authz/authentication.ts';
import {
  narrowScopes,
  parseScopeParameter,
  type Scope,
  scopesForRole,
  UnknownScopeError,
} from '../authz/scopes.ts';
import type { Clock } from '../clock.ts';
import type { Metrics } from '../http/metrics.ts';
import type { SessionCache } from './cache.ts';
import { RefreshRefusedError } from './errors.ts';
import type { SessionsRepository } from './repository.ts';
import type { TokenAnswer, TokenSession } from './service.ts';

/**
 * Reuse policy (RFC 9700 §4.14.2, refresh token rotation): a refresh token is good once. Presenting a
 * spent one again means two parties hold it, so the whole session is revoked — unless it comes back
 * within this many milliseconds of being spent, which is a client retrying or two tabs racing; those
 * get the same successor, derived from the token itself, so every instance gives the same answer.
 */
const REUSE_GRACE_MS = 10_000;

const INVALID_REFRESH = 'the refresh token is invalid, expired or revoked';

/** SHA-256, base64url: how refresh tokens are stored and looked up. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * RFC 6749 §6 with rotation (RFC 9700 §4.14.2): the refresh grant's rules, apart from how sessions
 * start and end. `answer` makes the token pair for a session, `liveUntil` says when one ends.
 */
export function createRefresh(deps: {
  repository: SessionsRepository;
  cache: SessionCache;
  clock: Clock;
  audit: AuditTrail;
  metrics: Metrics | undefined;
  successorKey: () => Promise<Buffer>;
  firstPartyClientId: string;
  liveUntil: (session: { expires_at: Date; last_used_at: Date }) => Date;
  answer: (session: TokenSession, granted: readonly Scope[], refreshToken: string) => Promise<TokenAnswer>;
}) {
  const { repository, cache, clock, audit, metrics, liveUntil, answer } = deps;

  const successorOf = async (token: string) =>
    createHmac('sha256', await deps.successorKey())
      .update(token)
      .digest('base64url');

  type TokenRow = NonNullable<Awaited<ReturnType<SessionsRepository['findToken']>>>;

  /**
   * The scopes of a refreshed access token: those granted at login that the user's role still allows,
   * narrowed if the request asks (RFC 6749 §6: never more than originally granted).
   */
  function refreshedScopes(row: TokenRow, scope: string | undefined): Scope[] {
    let requested: Scope[] | undefined;
    try {
      requested = parseScopeParameter(scope);
    } catch (error) {
      if (error instanceof UnknownScopeError) throw new RefreshRefusedError('invalid_scope', error.message);
      throw error;
    }
    const roleScopes: readonly string[] = scopesForRole(row.role);
    const allowed = row.scope.split(' ').filter((name): name is Scope => roleScopes.includes(name));
    const scopes = requested === undefined ? allowed : narrowScopes(allowed, requested);
    if (!scopes)
      throw new RefreshRefusedError(
        'invalid_scope',
        'the requested scope is more than this session was granted',
      );
    return scopes;
  }

  /**
   * The reuse policy, in one place: a spent token back within REUSE_GRACE_MS, while its successor has
   * not been used itself, is a retry and gets that successor; later, or once the successor has been
   * used (T0 → T1 → T2, then T0: someone else holds T0), it is theft, and the session is revoked —
   * committed before the error answer — and the event logged for whoever investigates.
   */
  async function secondUse(
    row: TokenRow & { spent_at: Date },
    successor: string,
    now: Date,
    facts: AuditFacts,
    log: FastifyBaseLogger,
  ) {
    const sinceSpent = now.getTime() - row.spent_at.getTime();
    const retry =
      sinceSpent <= REUSE_GRACE_MS &&
      row.successor_hash === hashToken(successor) &&
      row.successor_spent_at === null;
    if (retry) return;
    const events = [
      audit.event('refresh_token_reuse', {
        ...facts,
        userId: row.user_id,
        sessionId: row.session_id,
        details: { spent_ms_ago: sinceSpent },
      }),
    ];
    // Recorded when this request is the one that revoked the session (not again by a racing one).
    if (await repository.revoke(row.session_id, 'refresh_token_reuse', now, () => events)) {
      audit.published(events, log);
    }
    cache.forgetSession(row.session_id);
    metrics?.refreshReuse.inc();
    throw new RefreshRefusedError('invalid_grant', INVALID_REFRESH);
  }

  /** RFC 6749 §6 with rotation: spend the presented token and answer its successor. */
  async function refresh(input: {
    refreshToken: string;
    scope: string | undefined;
    /** The client the request is from (authenticated when confidential): only its own sessions refresh. */
    clientId: string;
    facts: AuditFacts;
    log: FastifyBaseLogger;
  }) {
    const presentedHash = hashToken(input.refreshToken);
    let row = await repository.findToken(presentedHash);
    const now = clock.now();
    if (!row || row.revoked_at !== null || row.disabled || now >= liveUntil(row)) {
      throw new RefreshRefusedError('invalid_grant', INVALID_REFRESH);
    }
    // Refresh tokens are bound to their client (RFC 9700 §4.14.2): another client's is not a token
    // of its own. Sessions from before clients are the first-party client's.
    if ((row.client_id ?? deps.firstPartyClientId) !== input.clientId) {
      throw new RefreshRefusedError('invalid_grant', INVALID_REFRESH);
    }
    const scopes = refreshedScopes(row, input.scope);
    const successor = await successorOf(input.refreshToken);
    const session = {
      id: row.session_id,
      userId: row.user_id,
      username: row.username,
      role: row.role,
      emailVerified: row.email_verified,
      clientId: row.client_id,
      authTime: row.auth_time ?? row.created_at,
      amr: parseAmr(row.amr),
    };

    if (row.spent_at === null) {
      const childHash = hashToken(successor);
      if (await repository.rotate({ parentHash: presentedHash, childHash, sessionId: row.session_id, now })) {
        cache.forgetSession(row.session_id);
        return answer(session, scopes, successor);
      }
      // Another request spent it a moment ago (on this instance or another): this is a second use.
      row = await repository.findToken(presentedHash);
      if (!row || row.spent_at === null) throw new RefreshRefusedError('invalid_grant', INVALID_REFRESH);
    }
    await secondUse({ ...row, spent_at: row.spent_at }, successor, now, input.facts, input.log);
    return answer(session, scopes, successor);
  }

  return refresh;
}
