import { v7 as uuidv7 } from 'uuid';
import type { UsersRepository } from '../accounts/repository.ts';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { parseAmr } from '../authz/authentication.ts';
import { grantScopes, isScope } from '../authz/scopes.ts';
import type { Clock } from '../clock.ts';
import type { SessionsService, TokenAnswer } from '../sessions/service.ts';
import type { CallingClient } from './client-auth.ts';
import { type AuthorizationCodes, s256 } from './codes.ts';
import { OAuthError } from './errors.ts';

/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const INVALID_CODE = 'the code is invalid, expired, spent or not this client’s';

/**
 * RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6): a code for a session of its client. The code is spent by
 * one conditional update, so of racing redemptions exactly one gets tokens; a spent code presented
 * again with valid parameters ends the session it became (RFC 6749 §4.1.2), with invalid ones nothing.
 */
export function createCodeGrant(deps: {
  codes: AuthorizationCodes;
  sessions: SessionsService;
  users: UsersRepository;
  audit: AuditTrail;
  clock: Clock;
}) {
  const { codes, sessions, users, audit, clock } = deps;

  return async function codeGrant(
    form: {
      code?: string | undefined;
      code_verifier?: string | undefined;
      redirect_uri?: string | undefined;
    },
    calling: CallingClient,
    context: { facts: AuditFacts },
  ): Promise<TokenAnswer> {
    if (!form.code) throw new OAuthError('invalid_request', 'code is required');
    if (!form.code_verifier) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE)');
    const code = await codes.find(form.code);
    const invalid = () => new OAuthError('invalid_grant', INVALID_CODE);
    if (!code || code.client_id !== calling.client.client_id) throw invalid();
    // Every binding of the code, checked before it is spent: a wrong verifier or redirect URI leaves
    // a good code good for its rightful holder (and a replay with them changes nothing).
    const bindingsHold =
      VERIFIER.test(form.code_verifier) &&
      s256(form.code_verifier) === code.code_challenge &&
      (form.redirect_uri === undefined || form.redirect_uri === code.redirect_uri);
    if (!bindingsHold) throw invalid();
    if (code.spent_at !== null) {
      // The rightful parameters again: whoever redeemed it first may not be the client. End it.
      if (code.session_id !== null)
        await sessions.revoke(code.session_id, 'authorization_code_replayed', context.facts);
      audit.later('authorization_code_replayed', {
        ...context.facts,
        userId: code.user_id,
        sessionId: code.session_id,
        details: { client_id: code.client_id },
      });
      throw invalid();
    }
    if (clock.now() >= code.expires_at) throw invalid();
    // Read before the sign-in is checked: a password change after this read voids the new session.
    const user = await users.findById(code.user_id);
    if (!user || user.disabled || !(await sessions.isLive(code.browser_session_id))) throw invalid();
    const sessionId = uuidv7();
    if (!(await codes.spend(code.code_hash, sessionId))) throw invalid();
    // The role now may allow less than when the code was issued.
    const scopes = grantScopes(user.role, code.scope.split(' ').filter(isScope)) ?? [];
    const answer = await sessions.start({
      user,
      scopes,
      userAgent: context.facts.userAgent ?? '',
      ip: context.facts.ip ?? '',
      verified: { passwordHash: user.password_hash, sessionsEpoch: Number(user.sessions_epoch) },
      clientId: code.client_id,
      authTime: code.auth_time,
      amr: parseAmr(code.amr),
      recordLogin: false,
      sessionId,
    });
    if (!answer) throw invalid();
    return answer;
  };
}
