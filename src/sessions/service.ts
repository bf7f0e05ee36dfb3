import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { type AuthMethod, PASSWORD_ONLY } from '../authz/authentication.ts';
import { accountSnapshot } from '../authz/principal.ts';
import type { Role } from '../authz/roles.ts';
import { type Scope, scopesWhileUnverified } from '../authz/scopes.ts';
import type { Clock } from '../clock.ts';
import { isUuid } from '../db/ids.ts';
import type { Metrics } from '../http/metrics.ts';
import type { AccessTokens } from './access-tokens.ts';
import { createBrowserSessions } from './browser-sessions.ts';
import type { SessionCache, SessionState } from './cache.ts';
import { loginEvent } from './login-event.ts';
import type { SessionsRepository } from './repository.ts';
import { createRevocation } from './revocation.ts';
import { createRefresh, hashToken } from './rotation.ts';

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
  kind: 'token' | 'browser';
  current: boolean;
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

  const liveUntil = (session: { expires_at: Date; last_used_at: Date }) => liveUntilOf(session, idleSeconds);

  async function answer(
    session: TokenSession,
    granted: readonly Scope[],
    refreshToken: string,
    signer: Pick<AccessTokens, 'issue'> = tokens,
  ): Promise<TokenAnswer> {
    const scopes =
      deps.verificationRequired && !session.emailVerified ? scopesWhileUnverified(granted) : granted;
    const { token, expiresIn } = await signer.issue(
      {
        userId: session.userId,
        username: session.username,
        role: session.role,
        scopes,
        sessionId: session.id,
      },
      { clientId: session.clientId ?? deps.firstPartyClientId, authTime: session.authTime, amr: session.amr },
    );
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
    /** When the user signed in: now (a password grant), or the browser sign-in's time (a code). */
    authTime?: Date;
    /** How: a password (the password grant), or the browser sign-in's methods (a code). */
    amr?: readonly AuthMethod[];
    /** Whether the session is stored with a login_succeeded event (not for a code: its grant was recorded). */
    recordLogin?: boolean;
    /** The new session's id when the caller made it first (a code records the session it became). */
    sessionId?: string;
    /** Who signs its access token: the native audience's by default; the RealWorld API's for its sessions. */
    signer?: Pick<AccessTokens, 'issue'>;
  }): Promise<TokenAnswer | undefined> {
    const now = clock.now();
    const authTime = input.authTime ?? now;
    const refreshToken = randomBytes(32).toString('base64url');
    const session = {
      id: input.sessionId ?? uuidv7(),
      user_id: input.user.id,
      scope: input.scopes.join(' '),
      created_at: now,
      last_used_at: now,
      expires_at: new Date(now.getTime() + refreshTtlSeconds * 1000),
      user_agent: input.userAgent.slice(0, 512),
      ip: input.ip,
      client_id: input.clientId ?? deps.firstPartyClientId,
      auth_time: authTime,
      amr: (input.amr ?? PASSWORD_ONLY).join(' '),
    };
    const events =
      input.recordLogin === false
        ? []
        : [loginEvent(audit, session, { scope: session.scope, ...input.details })];
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
        clientId: session.client_id,
        authTime,
        amr: input.amr ?? PASSWORD_ONLY,
      },
      input.scopes,
      refreshToken,
      input.signer,
    );
  }

  const browser = createBrowserSessions({
    repository,
    audit,
    clock,
    firstPartyClientId: deps.firstPartyClientId,
  });

  const refresh = createRefresh({
    repository,
    cache,
    clock,
    audit,
    metrics,
    successorKey: deps.successorKey,
    firstPartyClientId: deps.firstPartyClientId,
    liveUntil,
    answer,
  });

  const state = sessionStateLoader(repository, idleSeconds);

  const revocation = createRevocation({
    repository,
    cache,
    audit,
    clock,
    tokens,
    firstPartyClientId: deps.firstPartyClientId,
  });
  const { revoke } = revocation;

  return {
    start,
    startBrowser: browser.start,
    /** Whether session `id` stands now (not revoked, not past its end, its user enabled), read fresh. */
    async isLive(id: string): Promise<boolean> {
      const current = await state(id);
      return (
        current !== undefined && !current.revoked && !current.disabled && clock.now() < current.liveUntil
      );
    },
    browserSession: browser.find,
    refresh,

    ...revocation,

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
          kind: row.kind,
          current: row.id === currentSessionId,
        }));
    },
  };
}

/** A session ends at its absolute end, or after SESSION_IDLE_DAYS without a refresh. */
function liveUntilOf(session: { expires_at: Date; last_used_at: Date }, idleSeconds: number): Date {
  return new Date(
    Math.min(session.expires_at.getTime(), session.last_used_at.getTime() + idleSeconds * 1000),
  );
}

/** The guard's question, answered from the database (the session cache sits in front of this). */
export function sessionStateLoader(repository: SessionsRepository, idleSeconds: number) {
  return async (sessionId: string): Promise<SessionState | undefined> => {
    const row = await repository.state(sessionId);
    if (!row) return undefined;
    return {
      sessionId: row.id,
      userId: row.user_id,
      role: row.role,
      disabled: row.disabled,
      revoked: row.revoked_at !== null,
      liveUntil: liveUntilOf(row, idleSeconds),
      account: accountSnapshot(row),
    };
  };
}

/** The session a token pair is issued for. */
export interface TokenSession {
  readonly id: string;
  readonly userId: string;
  readonly username: string;
  readonly role: Role;
  readonly emailVerified: boolean;
  /** The client; null for sessions from before clients: the first-party one. */
  readonly clientId: string | null;
  readonly authTime: Date;
  /** How the user signed in (RFC 8176), kept across refreshes. */
  readonly amr: readonly AuthMethod[];
}
