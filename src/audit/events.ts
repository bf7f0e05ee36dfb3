import type { FastifyRequest } from 'fastify';

/**
 * The security events inkgate keeps (API.md "Audit events"). Each is written in the transaction of
 * the change it records; the ones about requests that change nothing (failed and throttled logins)
 * are written just after the answer, in batches (trail.ts).
 */
export const AUDIT_EVENT_TYPES = [
  'signup',
  'login_succeeded',
  'login_failed',
  'login_throttled',
  'refresh_token_reuse',
  'session_revoked',
  'sessions_revoked_all',
  'password_changed',
  'email_changed',
  'user_updated',
  'user_deleted',
  'key_rotated',
  'admin_bootstrapped',
  'account_deleted',
  'email_verification_sent',
  'email_verified',
  'password_reset_requested',
  'password_reset_completed',
  'client_created',
  'client_updated',
  'client_deleted',
  'client_secret_rotated',
  'authorization_granted',
  'authorization_revoked',
  'authorization_code_replayed',
  'personal_token_created',
  'personal_token_revoked',
  'mfa_enrolled',
  'mfa_removed',
  'mfa_failed',
  'recovery_code_used',
  'recovery_codes_renewed',
  'mfa_reset',
  'comment_moderated',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** What `details` may hold: small scalars and lists of names, built field by field, never a secret. */
export type AuditDetails = Readonly<Record<string, string | number | boolean | null | readonly string[]>>;

/** Where a request came from and who made it: the columns every event of that request shares. */
export interface AuditFacts {
  readonly ip?: string | null;
  readonly userAgent?: string | null;
  /** The session the event concerns, or else the one the request came from. */
  readonly sessionId?: string | null;
  /** Who did it, when not the user the event concerns (an admin). */
  readonly actorId?: string | null;
}

export interface AuditEventInput extends AuditFacts {
  /** Whose account the event concerns. */
  readonly userId?: string | null;
  readonly details?: AuditDetails;
  /** At most one stored event per key (trail.ts uses it to collapse floods). */
  readonly collapseKey?: string;
}

const USER_AGENT_MAX = 512;

/** The facts of one request: its address, user agent and, behind the guard, the caller's session. */
export function requestFacts(request: FastifyRequest): AuditFacts {
  const userAgent = request.headers['user-agent'];
  return {
    ip: request.ip,
    userAgent: userAgent === undefined ? null : userAgent.slice(0, USER_AGENT_MAX),
    sessionId: request.principal?.sessionId ?? null,
  };
}

/** The facts of a request an admin made about another user's account. */
export function adminFacts(request: FastifyRequest): AuditFacts {
  return { ...requestFacts(request), actorId: request.principal?.userId ?? null };
}
