import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Role } from '../authz/roles.ts';
import {
  narrowScopes,
  parseScopeParameter,
  type Scope,
  scopesForRole,
  scopesWhileUnverified,
  UnknownScopeError,
} from '../authz/scopes.ts';
import type { Clock } from '../clock.ts';
import { isUuid } from '../db/ids.ts';
import type { Database, NewAuditEvent } from '../db/schema.ts';
import type { Metrics } from '../http/metrics.ts';
import { OAuthError } from '../oauth/errors.ts';
import type { AccessTokens } from './access-tokens.ts';
import type { SessionCache, SessionState } from './cache.ts';
import type { SessionsRepository } from './repository.ts';

/**
 * Reuse policy (RFC 9700 §4.14.2, refresh token rotation): a refresh token is good once. Presenting a
 * spent one again means two parties hold it, so the whole session is revoked — unless it comes back
 * within this many milliseconds of being spent, which is a client retrying or two tabs racing; those
 * get the same successor, derived from the token itself, so every instance gives the same answer.
 */
export const REUSE_GRACE_MS = 10_000;

export interface TokenAnswer {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  refresh_token: string;
  scope: string;
}

export interface SessionPublic {
  id: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  user_agent: string;
  ip: string;
  client_id: string;
  current: boolean;
}

const INVALID_REFRESH = 'the refresh token is invalid, expired or revoked';

/** SHA-256, base64url: how refresh tokens are stored and looked up. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export type SessionsService = ReturnType<typeof createSessionsService>;

export function createSessionsService(deps: {
  repository: SessionsRepository;
  tokens: AccessTokens;
  cache: SessionCache;
  clock: Clock;
  audit: AuditTrail;
  metrics: Metrics | undefined;
  /** Absolute session lifetime (REFRESH_TOKEN_TTL), at most 30 days. */
  refreshTtlSeconds: number;
  /** The first-party client (CLIENT_ID): the client of password logins and of sessions from before clients. */
  firstPartyClientId: string;
  /** A session not refreshed for this long ends (SESSION_IDLE_DAYS). */
  idleSeconds: number;
  /** The server key that derives a refresh token's successor (the same on every instance). */
  successorKey: () => Promise<Buffer>;
  /** EMAIL_VERIFICATION=required: tokens of unverified users carry only `profile`. */
  verificationRequired?: boolean;
}) {
  const { repository, tokens, cache, clock, audit, metrics, refreshTtlSeconds, idleSeconds } = deps;
  const clientOf = (row: { client_id: string | null }) => row.client_id ?? deps.firstPartyClientId;

  const successorOf = async (token: string) =>
    createHmac('sha256', await deps.successorKey())
      .update(token)
      .digest('base64url');

  const liveUntil = (session: { expires_at: Date; last_used_at: Date }) =>
    new Date(Math.min(session.expires_at.getTime(), session.last_used_at.getTime() + idleSeconds * 1000));

  async function answer(
    session: { id: string; userId: string; username: string; role: Role; emailVerified: boolean },
    granted: readonly Scope[],
    refreshToken: string,
  ): Promise<TokenAnswer> {
    const scopes =
      deps.verificationRequired && !session.emailVerified ? scopesWhileUnverified(granted) : granted;
    const { token, expiresIn } = await tokens.issue({
      userId: session.userId,
      username: session.username,
      role: session.role,
      scopes,
      sessionId: session.id,
    });
    return {
      access_token: token,
      token_type: 'bearer',
      expires_in: expiresIn,
      refresh_token: refreshToken,
      scope: scopes.join(' '),
    };
  }

  /**
   * After a successful login: a new session, its first refresh token, an access token — or undefined
   * when, by the time the session is written, the account was disabled, its password changed or its
   * sessions ended (a login racing those never leaves a live session behind). The session is stored
   * with its login_succeeded event.
   */
  async function start(input: {
    user: { id: string; username: string; role: Role; email_verified: boolean };
    scopes: readonly Scope[];
    userAgent: string;
    ip: string;
    /** The hash the password was verified against, and the user's sessions_epoch read with it. */
    verified: { passwordHash: string; sessionsEpoch: number };
    /** What the login_succeeded event says besides the scope. */
    details?: Record<string, string | boolean>;
    /** The client the session is for; the first-party client by default. */
    clientId?: string;
  }): Promise<TokenAnswer | undefined> {
    const now = clock.now();
    const refreshToken = randomBytes(32).toString('base64url');
    const session = {
      id: uuidv7(),
      user_id: input.user.id,
      scope: input.scopes.join(' '),
      created_at: now,
      last_used_at: now,
      expires_at: new Date(now.getTime() + refreshTtlSeconds * 1000),
      user_agent: input.userAgent.slice(0, 512),
      ip: input.ip,
      client_id: input.clientId ?? deps.firstPartyClientId,
    };
    const events = [
      audit.event('login_succeeded', {
        userId: input.user.id,
        sessionId: session.id,
        ip: input.ip,
        userAgent: session.user_agent,
        details: { scope: session.scope, client_id: session.client_id, ...input.details },
      }),
    ];
    if (!(await repository.create(session, hashToken(refreshToken), input.verified, events)))
      return undefined;
    audit.published(events);
    return answer(
      {
        id: session.id,
        userId: input.user.id,
        username: input.user.username,
        role: input.user.role,
        emailVerified: input.user.email_verified,
      },
      input.scopes,
      refreshToken,
    );
  }

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
      if (error instanceof UnknownScopeError) throw new OAuthError('invalid_scope', error.message);
      throw error;
    }
    const roleScopes: readonly string[] = scopesForRole(row.role);
    const allowed = row.scope.split(' ').filter((name): name is Scope => roleScopes.includes(name));
    const scopes = requested === undefined ? allowed : narrowScopes(allowed, requested);
    if (!scopes)
      throw new OAuthError('invalid_scope', 'the requested scope is more than this session was granted');
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
    throw new OAuthError('invalid_grant', INVALID_REFRESH);
  }

  /** RFC 6749 §6 with rotation: spend the presented token and answer its successor. */
  async function refresh(input: {
    refreshToken: string;
    scope: string | undefined;
    facts: AuditFacts;
    log: FastifyBaseLogger;
  }) {
    const presentedHash = hashToken(input.refreshToken);
    let row = await repository.findToken(presentedHash);
    const now = clock.now();
    if (!row || row.revoked_at !== null || row.disabled || now >= liveUntil(row)) {
      throw new OAuthError('invalid_grant', INVALID_REFRESH);
    }
    const scopes = refreshedScopes(row, input.scope);
    const successor = await successorOf(input.refreshToken);
    const session = {
      id: row.session_id,
      userId: row.user_id,
      username: row.username,
      role: row.role,
      emailVerified: row.email_verified,
    };

    if (row.spent_at === null) {
      const childHash = hashToken(successor);
      if (await repository.rotate({ parentHash: presentedHash, childHash, sessionId: row.session_id, now })) {
        cache.forgetSession(row.session_id);
        return answer(session, scopes, successor);
      }
      // Another request spent it a moment ago (on this instance or another): this is a second use.
      row = await repository.findToken(presentedHash);
      if (!row || row.spent_at === null) throw new OAuthError('invalid_grant', INVALID_REFRESH);
    }
    await secondUse({ ...row, spent_at: row.spent_at }, successor, now, input.facts, input.log);
    return answer(session, scopes, successor);
  }

  /** The guard's question, answered from the database (the cache sits in front of this). */
  async function state(sessionId: string): Promise<SessionState | undefined> {
    const row = await repository.state(sessionId);
    if (!row) return undefined;
    return {
      sessionId: row.id,
      userId: row.user_id,
      role: row.role,
      disabled: row.disabled,
      revoked: row.revoked_at !== null,
      liveUntil: liveUntil(row),
      account: {
        id: row.user_id,
        username: row.username,
        email: row.email,
        email_verified: row.email_verified,
        pending_email: row.pending_email,
        full_name: row.full_name,
        role: row.role,
        disabled: row.disabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
      },
    };
  }

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

  return {
    start,
    refresh,
    revoke,

    /** RFC 7009: either kind of token revokes its session; anything else is quietly ignored. */
    async revokeToken(token: string, hint: string | undefined, facts: AuditFacts): Promise<void> {
      const asRefresh = async () => {
        const row = await repository.findToken(hashToken(token));
        if (row) await revoke(row.session_id, 'revoked_by_client', facts);
        return row !== undefined;
      };
      const asAccess = async () => {
        const sessionId = await tokens.sessionOf(token);
        if (sessionId) await revoke(sessionId, 'revoked_by_client', facts);
        return sessionId !== undefined;
      };
      const order = hint === 'access_token' ? [asAccess, asRefresh] : [asRefresh, asAccess];
      for (const attempt of order) if (await attempt()) return;
    },

    /** Ends every session of the user but `except`, recorded as one sessions_revoked_all event. */
    async revokeAllOfUser(
      userId: string,
      reason: string,
      options: { except?: string | undefined; facts?: AuditFacts } = {},
    ): Promise<void> {
      (await revokeAllOfUserWithin(undefined, userId, reason, options))();
    },

    revokeAllOfUserWithin,

    /** Revokes one of the user's live sessions; false when it is not one (API.md: 404). */
    async revokeOwn(userId: string, sessionId: string, facts: AuditFacts): Promise<boolean> {
      const current = isUuid(sessionId) ? await state(sessionId) : undefined;
      if (!current || current.userId !== userId || current.revoked || clock.now() >= current.liveUntil)
        return false;
      await revoke(sessionId, 'logged_out', facts);
      return true;
    },

    forgetUser(userId: string): void {
      cache.forgetUser(userId);
    },

    /** The user's live sessions, newest first; `current` marks the one the caller's token belongs to. */
    async list(userId: string, currentSessionId: string): Promise<SessionPublic[]> {
      const now = clock.now();
      const rows = await repository.listUnrevoked(userId, now);
      return rows
        .filter((row) => now < liveUntil(row))
        .map((row) => ({
          id: row.id,
          created_at: row.created_at.toISOString(),
          last_used_at: row.last_used_at.toISOString(),
          expires_at: liveUntil(row).toISOString(),
          user_agent: row.user_agent,
          ip: row.ip,
          client_id: clientOf(row),
          current: row.id === currentSessionId,
        }));
    },

    state,
  };
}
