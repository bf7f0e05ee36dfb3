import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { AuditTrail } from '../audit/trail.ts';
import { type AuthMethod, parseAmr } from '../authz/authentication.ts';
import type { Clock } from '../clock.ts';
import { loginEvent } from './login-event.ts';
import type { SessionsRepository } from './repository.ts';
import { hashToken } from './rotation.ts';

/**
 * Browsers' sign-ins at the login page: sessions of kind `browser`, listed and ended like any other,
 * whose secret the browser holds in a cookie (kept here only as its hash). They carry no tokens.
 */
export function createBrowserSessions(deps: {
  repository: SessionsRepository;
  audit: AuditTrail;
  clock: Clock;
  /** Browser sessions are inkgate's own: the first-party client's. */
  firstPartyClientId: string;
}) {
  const { repository, audit, clock, firstPartyClientId } = deps;

  /**
   * A browser's sign-in at the login page: a session of kind `browser` (listed and revocable like any
   * other) whose secret the browser holds in a cookie, kept here only as its hash; no tokens. Undefined
   * when the login raced a password change, a disable or a logout-everywhere (as for start).
   */
  async function start(input: {
    user: { id: string };
    userAgent: string;
    ip: string;
    verified: { passwordHash: string; sessionsEpoch: number };
    ttlSeconds: number;
    /** How the user signed in here: a password, a password and a second factor, or a passkey. */
    amr: readonly AuthMethod[];
    details?: Record<string, string | boolean>;
  }): Promise<{ sessionId: string; secret: string; authTime: Date } | undefined> {
    const now = clock.now();
    const secret = randomBytes(32).toString('base64url');
    const session = {
      id: uuidv7(),
      user_id: input.user.id,
      scope: '',
      created_at: now,
      last_used_at: now,
      expires_at: new Date(now.getTime() + input.ttlSeconds * 1000),
      user_agent: input.userAgent.slice(0, 512),
      ip: input.ip,
      client_id: firstPartyClientId,
      kind: 'browser' as const,
      auth_time: now,
      amr: input.amr.join(' '),
      secret_hash: hashToken(secret),
    };
    const events = [loginEvent(audit, session, { kind: 'browser', ...input.details })];
    if (!(await repository.create(session, undefined, input.verified, events))) return undefined;
    audit.published(events);
    return { sessionId: session.id, secret, authTime: now };
  }

  /** The live browser sign-in a cookie's secret names, with its user as now; undefined otherwise. */
  async function find(secret: string | undefined) {
    if (secret === undefined || !/^[A-Za-z0-9_-]{43}$/.test(secret)) return undefined;
    const row = await repository.findBrowser(hashToken(secret));
    if (!row || row.revoked_at !== null || row.disabled || clock.now() >= row.expires_at) return undefined;
    return {
      sessionId: row.id,
      userId: row.user_id,
      username: row.username,
      role: row.role,
      emailVerified: row.email_verified,
      authTime: row.auth_time ?? row.created_at,
      amr: parseAmr(row.amr),
      account: { mfa_totp: row.mfa_totp, mfa_passkeys: Number(row.mfa_passkeys) },
      verified: { passwordHash: row.password_hash, sessionsEpoch: Number(row.sessions_epoch) },
    };
  }

  return { start, find };
}
