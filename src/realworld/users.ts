/**
 * The RealWorld API's users — registration and login,
 * each answering a token of a session of the client `realworld` (signed by its own issuer, with its
 * own audience), over the same account creation, login rules and sessions as the native API.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { AccountsService } from '../accounts/service.ts';
import type { AuditFacts } from '../audit/events.ts';
import { hasSecondFactor } from '../authz/mfa-policy.ts';
import type { Principal } from '../authz/principal.ts';
import type { Scope } from '../authz/scopes.ts';
import type { LoginService } from '../login/service.ts';
import type { AccessTokens } from '../sessions/access-tokens.ts';
import type { SessionsService } from '../sessions/service.ts';
import { REALWORLD_CLIENT_ID, toUser } from './mapping.ts';

/** What its tokens carry: never `admin` (API.md). */
export const REALWORLD_SCOPES: readonly Scope[] = ['profile', 'posts:write', 'comments:write'];

export class RealWorldLoginError extends Error {
  constructor() {
    super('email or password is invalid');
    this.name = 'RealWorldLoginError';
  }
}

export function createRealWorldUsers(deps: {
  accounts: AccountsService;
  login: LoginService;
  sessions: SessionsService;
  signer: AccessTokens;
}) {
  const { accounts, login, sessions, signer } = deps;

  async function session(
    user: Parameters<SessionsService['start']>[0]['user'] & {
      password_hash: string;
      sessions_epoch: number | string;
    },
    facts: AuditFacts,
    details: Record<string, string | boolean>,
  ) {
    const answer = await sessions.start({
      user,
      scopes: REALWORLD_SCOPES,
      userAgent: facts.userAgent ?? '',
      ip: facts.ip ?? '',
      verified: { passwordHash: user.password_hash, sessionsEpoch: Number(user.sessions_epoch) },
      clientId: REALWORLD_CLIENT_ID,
      signer,
      details,
    });
    if (!answer) throw new RealWorldLoginError();
    return answer.access_token;
  }

  return {
    /** POST /api/users: signup's rules, then a session (the signup counts as a fresh password login). */
    register: async (input: { username: string; email: string; password: string }, facts: AuditFacts) => {
      const result = await accounts.register(input, facts);
      if (!('created' in result)) throw new Error('REALWORLD_API needs EMAIL_VERIFICATION=optional');
      const user = result.created;
      return toUser(user, await session(user, facts, { realworld: 'signup' }));
    },

    /** A new access token of the caller's own session (its username changed), signed as the first. */
    reissue: async (caller: Principal, username: string) =>
      (
        await signer.issue(
          {
            userId: caller.userId,
            username,
            role: caller.role,
            scopes: caller.scopes,
            sessionId: caller.sessionId,
          },
          { clientId: REALWORLD_CLIENT_ID, authTime: caller.authTime ?? new Date(0), amr: caller.amr },
        )
      ).token,

    /** POST /api/users/login: the login rules of /token (throttle, no lockout of the owner). */
    login: async (
      input: { email: string; password: string },
      context: { address: string; facts: AuditFacts; log: FastifyBaseLogger },
    ) => {
      const verified = await login.verifyCredentials({
        username: input.email,
        password: input.password,
        address: context.address,
        facts: context.facts,
        deviceCookie: undefined,
        log: context.log,
      });
      // A second factor cannot be given through this API: as the password grant, refuse.
      if (hasSecondFactor(verified.user)) {
        await verified.abandoned();
        throw new RealWorldLoginError();
      }
      const token = await session(verified.user, context.facts, { seen_before: verified.seenBefore });
      await verified.succeeded();
      return toUser(verified.user, token);
    },
  };
}
