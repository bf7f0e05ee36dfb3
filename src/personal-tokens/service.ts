import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { AuditFacts } from '../audit/events.ts';
import { insertAuditEvents } from '../audit/repository.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { accountSnapshot, type Principal } from '../authz/principal.ts';
import { isScope, SCOPES, type Scope } from '../authz/scopes.ts';
import type { Clock } from '../clock.ts';
import { isUuid } from '../db/ids.ts';
import type { Database, NewAuditEvent } from '../db/schema.ts';
import { ConflictError, ForbiddenError, NotFoundError, UnprocessableError } from '../http/errors.ts';
import type { SessionCache, SessionState } from '../sessions/cache.ts';
import { hashOfKey, newPersonalToken, personalTokenKey } from './format.ts';
import type { PersonalTokensRepository } from './repository.ts';

/** How many live tokens one account may hold: a list a person can still read, and a bound on rows. */
export const MAX_PERSONAL_TOKENS = 50;
export const DEFAULT_LIFETIME_SECONDS = 90 * 86_400;
export const MAX_LIFETIME_SECONDS = 365 * 86_400;
/** last_used_at is kept to this precision: at most one write per token and interval, per instance. */
const USE_RECORDED_EVERY_MS = 60_000;

export interface PersonalTokenPublic {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly created_at: Date;
  readonly last_used_at: Date | null;
  readonly expires_at: Date;
}

export type PersonalTokens = ReturnType<typeof createPersonalTokens>;

const scopesOf = (text: string): Scope[] => text.split(' ').filter(isScope);

/**
 * Personal access tokens (API.md "Authorization"): made by a first-party sign-in, shown once, kept as
 * hashes, taken by the guard through the session cache (so every revocation reaches them within the
 * same bound as a session's), ended by DELETE, a password reset, or their user's disabling or deletion.
 */
export function createPersonalTokens(deps: {
  repository: PersonalTokensRepository;
  cache: SessionCache;
  audit: AuditTrail;
  clock: Clock;
  /** CLIENT_ID: only its tokens (a sign-in with inkgate itself) may make a personal token. */
  firstPartyClientId: string;
  /** Whether the caller's session still stands, read inside the creation's transaction. */
  sessionStandsIn: (trx: Kysely<Database>, sessionId: string) => Promise<boolean>;
}) {
  const { repository, cache, audit, clock } = deps;

  /** Who may make one: a person signed in with inkgate itself, never a token acting on its own. */
  function requireFirstPartySignIn(principal: Principal): void {
    if (principal.credential === 'personal_token')
      throw new ForbiddenError('a personal access token cannot create another', 'personal_token_refused');
    if (principal.clientId !== deps.firstPartyClientId)
      throw new ForbiddenError(
        'a third-party app cannot create personal access tokens: sign in with inkgate itself',
        'personal_token_refused',
      );
  }

  return {
    async create(
      principal: Principal,
      input: { name: string; scopes: readonly string[]; expires_in?: number | undefined },
      facts: AuditFacts,
    ): Promise<PersonalTokenPublic & { token: string }> {
      requireFirstPartySignIn(principal);
      const name = input.name.trim();
      const errors: Array<{ path: string; message: string }> = [];
      if (name === '') errors.push({ path: '/name', message: 'must not be blank' });
      // Never more than the request's own token holds now (its scopes as the role allows them).
      const beyond = input.scopes.filter((scope) => !principal.scopes.includes(scope as Scope));
      if (beyond.length > 0)
        errors.push({
          path: '/scopes',
          message: `not held by the token making this request: ${beyond.join(' ')}`,
        });
      if (errors.length > 0) throw new UnprocessableError(errors);
      const scopes = SCOPES.filter((scope) => input.scopes.includes(scope));
      const now = clock.now();
      const lifetime = input.expires_in ?? DEFAULT_LIFETIME_SECONDS;
      const { token, hash } = newPersonalToken();
      const row = {
        id: uuidv7(),
        userId: principal.userId,
        name,
        scopes: scopes.join(' '),
        tokenHash: hash,
        createdAt: now,
        expiresAt: new Date(now.getTime() + lifetime * 1000),
      };
      const events = [
        audit.event('personal_token_created', {
          ...facts,
          userId: principal.userId,
          details: { token_id: row.id, name, scopes, expires_at: row.expiresAt.toISOString() },
        }),
      ];
      const outcome = await repository.create(
        row,
        {
          max: MAX_PERSONAL_TOKENS,
          stillAllowed: (trx) => deps.sessionStandsIn(trx, principal.sessionId),
        },
        events,
      );
      if (outcome === 'limit')
        throw new ConflictError(
          `an account may hold ${MAX_PERSONAL_TOKENS} live personal access tokens: revoke one first`,
          'personal_token_limit',
        );
      // The sign-in ended (or the account was disabled) while this request ran: as the guard would.
      if (outcome === 'refused')
        throw new ForbiddenError('your sign-in has ended; sign in again', 'personal_token_refused');
      audit.published(events);
      return {
        id: row.id,
        name,
        scopes,
        created_at: now,
        last_used_at: null,
        expires_at: row.expiresAt,
        token,
      };
    },

    async list(userId: string): Promise<PersonalTokenPublic[]> {
      const rows = await repository.list(userId, clock.now(), MAX_PERSONAL_TOKENS);
      return rows.map((row) => ({ ...row, scopes: scopesOf(row.scopes) }));
    },

    /** Revokes one of the user's live tokens, here at once and on every other instance within the bound; 404 else. */
    async revoke(userId: string, id: string, facts: AuditFacts): Promise<void> {
      let events: NewAuditEvent[] = [];
      const hash = isUuid(id)
        ? await repository.revoke(userId, id, clock.now(), ({ name }) => {
            events = [
              audit.event('personal_token_revoked', {
                ...facts,
                userId,
                details: { token_id: id, name, reason: 'revoked' },
              }),
            ];
            return events;
          })
        : undefined;
      if (hash === undefined)
        throw new NotFoundError('not one of your live personal access tokens', 'personal_token_not_found');
      audit.published(events);
      cache.forgetSession(personalTokenKey(hash));
    },

    /**
     * Revokes every live token of the user inside `trx` (a password reset, a disable); answers what to
     * do once it commits: publish the event and drop the cached entries here and, through Redis,
     * everywhere.
     */
    async revokeAllOfUserWithin(
      trx: Kysely<Database>,
      userId: string,
      reason: string,
      facts: AuditFacts = {},
    ): Promise<() => void> {
      const revoked = await repository.revokeAllOfUser(trx, userId, reason, clock.now());
      const events = revoked.map((row) =>
        audit.event('personal_token_revoked', { ...facts, userId, details: { token_id: row.id, reason } }),
      );
      await insertAuditEvents(trx, events);
      return () => {
        audit.published(events);
        cache.forgetUser(userId);
      };
    },
  };
}

/**
 * The session cache's loader for personal-token keys: the token and its user now. A use is recorded
 * at most once a minute, after the answer (the request does not wait for the write).
 */
export function personalTokenStateLoader(repository: PersonalTokensRepository, clock: Clock) {
  return async (key: string): Promise<SessionState | undefined> => {
    const hash = hashOfKey(key);
    const row = hash === undefined ? undefined : await repository.state(hash);
    if (!row) return undefined;
    const now = clock.now();
    const since = new Date(now.getTime() - USE_RECORDED_EVERY_MS);
    if (row.revoked_at === null && (row.last_used_at === null || row.last_used_at < since)) {
      repository.touch(row.id, now, since).catch(() => {
        // Only a statistic: a lost write is corrected by the next use.
      });
    }
    return {
      sessionId: key,
      userId: row.user_id,
      role: row.role,
      disabled: row.disabled,
      revoked: row.revoked_at !== null,
      liveUntil: row.expires_at,
      account: accountSnapshot(row),
      personal: { id: row.id, scopes: scopesOf(row.scopes), createdAt: row.token_created_at },
    };
  };
}
