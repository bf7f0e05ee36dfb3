import { randomUUID } from 'node:crypto';
import { compactVerify, errors, type JWTHeaderParameters, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { ROLES, type Role } from '../authz/roles.ts';
import { isScope, type Scope } from '../authz/scopes.ts';
import type { Clock } from '../clock.ts';
import type { KeyRing } from './keys.ts';

/** RFC 9068 §2.1: access tokens say what they are, so an ID token or other JWT cannot pass for one. */
const TOKEN_TYPE = 'at+jwt';
/** Clock skew allowed for exp, and no more for iat/nbf in the future. */
const CLOCK_SKEW_SECONDS = 30;

export interface AccessTokenSubject {
  readonly userId: string;
  readonly username: string;
  readonly role: Role;
  readonly scopes: readonly Scope[];
  /** The session (login) the token belongs to: revoking it revokes the token. */
  readonly sessionId: string;
}

export interface VerifiedAccessToken extends AccessTokenSubject {
  readonly tokenId: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

export class InvalidTokenError extends Error {
  constructor(description: string, options: { cause?: unknown } = {}) {
    super(description, options);
    this.name = 'InvalidTokenError';
  }
}

export interface AccessTokens {
  readonly ttlSeconds: number;
  issue(subject: AccessTokenSubject): Promise<{ token: string; expiresIn: number }>;
  /** Throws InvalidTokenError with a description fit for WWW-Authenticate. */
  verify(token: string): Promise<VerifiedAccessToken>;
  /** The `sid` of a token we signed, expired or not (for RFC 7009 revocation); undefined for any other. */
  sessionOf(token: string): Promise<string | undefined>;
}

export function createAccessTokens(options: {
  keys: KeyRing;
  clock: Clock;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}): AccessTokens {
  const { keys, clock, issuer, audience, ttlSeconds } = options;

  async function issue(subject: AccessTokenSubject) {
    await keys.refresh();
    const now = Math.floor(clock.now().getTime() / 1000);
    const current = keys.current();
    const token = await new SignJWT({
      sid: subject.sessionId,
      scope: subject.scopes.join(' '),
      role: subject.role,
      username: subject.username,
    })
      .setProtectedHeader({ alg: current.alg, kid: current.kid, typ: TOKEN_TYPE })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(subject.userId)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .sign(current.signingKey);
    return { token, expiresIn: ttlSeconds };
  }

  // RFC 8725 §3.1, §3.10: the algorithm and the keys come from our configuration, never from the
  // token; headers that point at other keys are refused rather than ignored.
  const keyFor = async (header: JWTHeaderParameters) => {
    for (const name of ['jku', 'x5u', 'jwk', 'x5c'] as const) {
      if (header[name] !== undefined) throw new InvalidTokenError(`the ${name} header is not accepted`);
    }
    if (typeof header.kid !== 'string') throw new InvalidTokenError('the token names no key (kid)');
    let key = keys.find(header.kid);
    if (!key) {
      // Perhaps a key another instance made a moment ago: look again (rate-limited inside).
      await keys.refresh({ unknownKid: true });
      key = keys.find(header.kid);
    }
    if (!key) throw new InvalidTokenError('the token was not signed by a key of this server');
    return key.verificationKey;
  };

  async function sessionOf(token: string): Promise<string | undefined> {
    try {
      const { payload, protectedHeader } = await compactVerify(token, keyFor, { algorithms: [keys.alg] });
      if (protectedHeader.typ !== TOKEN_TYPE) return undefined;
      const claims = JSON.parse(new TextDecoder().decode(payload)) as JWTPayload;
      const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (claims.iss !== issuer || !audiences.includes(audience) || typeof claims.sid !== 'string')
        return undefined;
      return claims.sid;
    } catch {
      return undefined;
    }
  }

  async function verify(token: string): Promise<VerifiedAccessToken> {
    await keys.refresh();
    const now = clock.now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keyFor, {
        algorithms: [keys.alg],
        issuer,
        audience,
        typ: TOKEN_TYPE,
        clockTolerance: CLOCK_SKEW_SECONDS,
        currentDate: now,
        requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'jti', 'sid'],
      }));
    } catch (error) {
      throw new InvalidTokenError(describe(error), { cause: error });
    }
    if (typeof payload.iat === 'number' && payload.iat > now.getTime() / 1000 + CLOCK_SKEW_SECONDS) {
      throw new InvalidTokenError('the token was issued in the future');
    }
    const { sub, jti, iat, exp, sid, scope, role, username } = payload;
    if (
      typeof sub !== 'string' ||
      typeof sid !== 'string' ||
      typeof jti !== 'string' ||
      typeof scope !== 'string' ||
      typeof username !== 'string' ||
      typeof role !== 'string' ||
      !(ROLES as readonly string[]).includes(role)
    ) {
      throw new InvalidTokenError('the token is missing claims');
    }
    const scopes = scope.split(' ').filter(Boolean);
    if (!scopes.every(isScope)) throw new InvalidTokenError('the token has an unknown scope');
    return {
      userId: sub,
      username,
      role: role as Role,
      scopes,
      sessionId: sid,
      tokenId: jti,
      issuedAt: new Date((iat as number) * 1000),
      expiresAt: new Date((exp as number) * 1000),
    };
  }

  return { ttlSeconds, issue, verify, sessionOf };
}

function describe(error: unknown): string {
  if (error instanceof InvalidTokenError) return error.message;
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed)
    return `the token's ${error.claim} claim is not accepted`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token algorithm is not accepted';
  return 'the token is malformed or not accepted';
}
