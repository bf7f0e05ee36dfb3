import type { Kysely } from 'kysely';
import type { AuditFacts } from '../audit/events.ts';
import type { Database, NewAuditEvent, UserRow } from '../db/schema.ts';

// What accounts need from the domains after them (sessions, recovery): interfaces that app wiring
// fills, so that accounts imports none of them.

/** What accounts need from sessions: ending them when an account changes. */
export interface SessionControl {
  /** Ends the user's sessions (but `except`), recording sessions_revoked_all with `facts`. */
  revokeAllOfUser(
    userId: string,
    reason: string,
    options?: { except?: string | undefined; facts?: AuditFacts },
  ): Promise<void>;
  /** The same inside `trx`, the change's own transaction; call what it answers once that commits. */
  revokeAllOfUserWithin(
    trx: Kysely<Database>,
    userId: string,
    reason: string,
    options?: { except?: string | undefined; facts?: AuditFacts },
  ): Promise<() => void>;
  /** Drop what this instance remembers of the user's sessions (role, disabled, existence). */
  forgetUser(userId: string): void;
}

/** What accounts need from personal-tokens/: ending a user's tokens with a reset or a disable. */
export interface PersonalTokenControl {
  /** Ends the user's personal access tokens inside `trx`; call what it answers once that commits. */
  revokeAllOfUserWithin(
    trx: Kysely<Database>,
    userId: string,
    reason: string,
    facts?: AuditFacts,
  ): Promise<() => void>;
}

/** What a second-factor notice tells (mfa/ sends them, recovery/ words them). */
export type SecurityChange =
  | 'totp_added'
  | 'totp_removed'
  | 'passkey_added'
  | 'passkey_removed'
  | 'recovery_code_used'
  | 'recovery_codes_renewed'
  | 'mfa_reset';

/**
 * The messages account changes send (recovery/ implements it). Each writes its message, and any event
 * it records, with `db`: the transaction of the change, so both commit or neither does; the events
 * are answered for the caller to publish once committed, and `committed()` then has them delivered.
 */
export interface AccountMail {
  /** A verification message to the new account's address. */
  signedUp(db: Kysely<Database>, user: UserRow, facts: AuditFacts): Promise<NewAuditEvent[]>;
  /** EMAIL_VERIFICATION=required: "someone tried to sign up with your address", to its owner. */
  signupAttempted(db: Kysely<Database>, holder: UserRow): Promise<void>;
  /** A verification message to the new address and a notice naming it (masked) to the old one. */
  emailChanged(
    db: Kysely<Database>,
    user: UserRow,
    previousEmail: string,
    facts: AuditFacts,
  ): Promise<NewAuditEvent[]>;
  /**
   * EMAIL_VERIFICATION=required: `user.pending_email` was asked for. A link to it, or — when
   * `holder` already has that address — the "someone tried to use your address" notice to the
   * holder instead; and a notice to the current address either way.
   */
  emailChangeRequested(db: Kysely<Database>, user: UserRow, holder: UserRow | undefined): Promise<void>;
  passwordChanged(db: Kysely<Database>, user: UserRow, how: 'changed' | 'reset'): Promise<void>;
  /** A notice that the account's second factors changed, or that one was used to recover it. */
  securityChanged(db: Kysely<Database>, user: UserRow, change: SecurityChange): Promise<void>;
  accountDeleted(db: Kysely<Database>, user: UserRow): Promise<void>;
  committed(): void;
}

/** Current-password checks, limited per session (a stolen access token is no password oracle). */
export interface PasswordAttempts {
  attemptInSession(
    sessionId: string,
  ): Promise<
    | { readonly allowed: true; succeeded(): Promise<void>; released(): Promise<void> }
    | { readonly allowed: false; readonly retryAfterSeconds: number }
  >;
}
