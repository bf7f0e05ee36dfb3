import type { FastifyRequest, onRequestAsyncHookHandler, preHandlerAsyncHookHandler } from 'fastify';
import type { Acr, AuthMethod } from './authentication.ts';
import type { Role } from './roles.ts';
import type { Scope } from './scopes.ts';

/**
 * The caller's account as the session cache last read it: at most one second old on another
 * instance (milliseconds with Redis), and never stale on the instance that changed it.
 */
export interface AccountSnapshot {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly email_verified: boolean;
  readonly pending_email: string | null;
  readonly full_name: string;
  readonly bio: string;
  readonly image: string | null;
  readonly role: Role;
  readonly disabled: boolean;
  /** The second factors it has: a confirmed TOTP, how many passkeys. */
  readonly mfa_totp: boolean;
  readonly mfa_passkeys: number;
  readonly created_at: Date;
  readonly updated_at: Date;
}

/** The snapshot from a row of the users table read with a session or a personal token. */
export function accountSnapshot(row: {
  user_id: string;
  username: string;
  email: string;
  email_verified: boolean;
  pending_email: string | null;
  full_name: string;
  bio: string;
  image: string | null;
  role: Role;
  disabled: boolean;
  mfa_totp: boolean;
  mfa_passkeys: number | string;
  created_at: Date;
  updated_at: Date;
}): AccountSnapshot {
  return {
    id: row.user_id,
    username: row.username,
    email: row.email,
    email_verified: row.email_verified,
    pending_email: row.pending_email,
    full_name: row.full_name,
    bio: row.bio,
    image: row.image,
    role: row.role,
    disabled: row.disabled,
    mfa_totp: row.mfa_totp,
    mfa_passkeys: Number(row.mfa_passkeys),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/**
 * Who is calling: set on the request by the guard of every protected route. `role` is the user's
 * role now, and `scopes` the token's scopes that this role still allows (ASVS 8.3.2: a demotion
 * applies to tokens already issued).
 */
export interface Principal {
  readonly userId: string;
  readonly username: string;
  readonly role: Role;
  readonly scopes: readonly Scope[];
  /** What the caller sent: an access token of a session, or a personal access token. */
  readonly credential: 'access_token' | 'personal_token';
  /** The client the access token was issued to; none for a personal access token. */
  readonly clientId?: string | undefined;
  /**
   * When and how the user signed in (RFC 9068 auth_time, RFC 8176 amr, the acr level): what step-up
   * reads. None for a personal access token, which is no sign-in.
   */
  readonly authTime?: Date | undefined;
  readonly amr?: readonly AuthMethod[] | undefined;
  readonly acr?: Acr | undefined;
  /** The session (login) the token belongs to; for a personal access token, the token's own id. */
  readonly sessionId: string;
  readonly tokenId: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** The account, read with the session (GET /users/me answers from it without a query). */
  readonly account?: AccountSnapshot;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/**
 * Declared on each protected route (never by URL prefix) as its onRequest hook: the guard for these
 * scopes runs before the body is read, so no token or a bad one is 401 whatever the body (API.md).
 */
export type RequireAuth = (...scopes: Scope[]) => onRequestAsyncHookHandler;

/**
 * On a public route whose answer a caller's token adds to (`favorited`, `following`): without an
 * Authorization header the request is anonymous; with one, the token is checked as requireAuth()
 * does (a bad one is 401, never silently anonymous).
 */
export type OptionalAuth = onRequestAsyncHookHandler;

/**
 * Step-up (RFC 9470), after requireAuth: for a user with a second factor, a recent two-factor
 * sign-in (401 insufficient_user_authentication otherwise). `when` limits it to some requests.
 */
export interface StepUp {
  readonly required: onRequestAsyncHookHandler;
  when(applies: (request: FastifyRequest) => boolean): preHandlerAsyncHookHandler;
}

/** The principal a guarded handler runs for; a route without requireAuth has none. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('principalOf() on a route without requireAuth');
  return request.principal;
}
