import { randomUUID } from 'node:crypto';
import { createVerifier, TokenError } from 'fast-jwt';
import { type JWTPayload, SignJWT } from 'jose';
import { type Acr, type AuthMethod, acrOf, PASSWORD_ONLY, parseAmr } from '../authz/authentication.ts';
import { ROLES, type Role } from '../authz/roles.ts';
import { isScope, type Scope } from '../authz/scopes.ts';
import { boundedCache } from '../bounded-cache.ts';
import type { Clock } from '../clock.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import type { SigningKey } from '../keys/signing-keys.ts';

/** RFC 9068 §2.1: access tokens say what they are, so an ID token or other JWT cannot pass for one. */
const TOKEN_TYPE = 'at+jwt';
/** Clock skew allowed for exp, and no more for iat/nbf in the future. */
const CLOCK_SKEW_SECONDS = 30;
/**
 * Verified tokens kept (see `verified`): the token's text (a header value: one byte a character) and
 * about 0.5 KB of claims each; 20,000 of today's tokens (~1.2 KB each) fit in the 32 MiB.
 */
const VERIFIED_CACHE_SIZE = 20_000;
const VERIFIED_ENTRY_BYTES = 512;
const VERIFIED_CACHE_BYTES = 32 * 1024 * 1024;
/** Refused token texts kept (see `refused`): a sender chooses their length, so bytes bind too (4 MiB). */
const REFUSED_CACHE_SIZE = 10_000;
const REFUSED_ENTRY_BYTES = 128;
const REFUSED_CACHE_BYTES = 4 * 1024 * 1024;
/** fast-jwt's failures that the same token text would meet again at any later time. */
const FINAL_FAILURES = new Set([
  'FAST_JWT_INVALID_SIGNATURE',
  'FAST_JWT_INVALID_ALGORITHM',
  'FAST_JWT_MALFORMED',
  'FAST_JWT_INVALID_PAYLOAD',
  'FAST_JWT_INVALID_CLAIM_VALUE',
  'FAST_JWT_INVALID_CLAIM_TYPE',
  'FAST_JWT_MISSING_REQUIRED_CLAIM',
  'FAST_JWT_MISSING_SIGNATURE',
  'FAST_JWT_INVALID_CRIT_HEADER',
]);

function isFinal(error: unknown): boolean {
  return error instanceof TokenError && FINAL_FAILURES.has(error.code);
}

export interface AccessTokenSubject {
  readonly userId: string;
  readonly username: string;
  readonly role: Role;
  readonly scopes: readonly Scope[];
  /** The session (login) the token belongs to: revoking it revokes the token. */
  readonly sessionId: string;
}

/** What a token is issued with beyond its subject: the client it is for and how its user signed in. */
export interface AccessTokenContext {
  /** RFC 9068 §2.2: the client the token was issued to; the first-party client by default. */
  readonly clientId?: string | undefined;
  /** RFC 9068 §2.2.1: when the user last authenticated. */
  readonly authTime: Date;
  /** RFC 8176: the methods that sign-in used; a password by default. */
  readonly amr?: readonly AuthMethod[] | undefined;
}

export interface VerifiedAccessToken extends AccessTokenSubject {
  /** The client it was issued to (RFC 9068 `client_id`). */
  readonly clientId: string;
  /** When its user signed in, and how (RFC 9068 §2.2.1, RFC 8176); the level the guard's step-up reads. */
  readonly authTime: Date;
  readonly amr: readonly AuthMethod[];
  readonly acr: Acr;
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
  issue(
    subject: AccessTokenSubject,
    context: AccessTokenContext,
  ): Promise<{ token: string; expiresIn: number }>;
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
  /** The first-party client named in every token's client_id (CLIENT_ID). */
  clientId?: string;
  ttlSeconds: number;
  /** Told of every verified-token cache lookup, hit or not (for /metrics). */
  onLookup?: (hit: boolean) => void;
}): AccessTokens {
  const { keys, clock, issuer, audience, ttlSeconds } = options;
  const clientId = options.clientId ?? 'inkgate';

  async function issue(subject: AccessTokenSubject, context: AccessTokenContext) {
    await keys.refresh();
    const now = Math.floor(clock.now().getTime() / 1000);
    const current = keys.current();
    const token = await new SignJWT({
      // RFC 9068 §2.2: client_id is a required claim of a JWT access token: the client the session
      // is for (the password grant's is the first-party client, RFC 9700 §2.4).
      client_id: context.clientId ?? clientId,
      auth_time: Math.floor(context.authTime.getTime() / 1000),
      amr: [...(context.amr ?? PASSWORD_ONLY)],
      acr: acrOf(context.amr ?? PASSWORD_ONLY),
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
  const signingKeyFor = async (header: Record<string, unknown>): Promise<SigningKey> => {
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
    return key;
  };
  /**
   * The request path verifies with fast-jwt, which checks the signature with node:crypto's
   * synchronous primitives: nothing waits on libuv's thread pool, where Argon2id runs (jose's
   * WebCrypto verification does). The key comes from our key ring by `kid`, for our algorithm only.
   * fast-jwt refuses `alg: none`, any other algorithm, unknown `crit` extensions, a missing or
   * foreign `iss`/`aud` and missing claims; the time claims are checked below against our clock.
   */
  const verifySignature = createVerifier({
    key: async ({ header }: { header: Record<string, unknown> }) => {
      if (!isAccessTokenType(header.typ))
        throw new InvalidTokenError('the token is not an access token (typ)');
      return (await signingKeyFor(header)).syncVerificationKey;
    },
    algorithms: [keys.alg],
    complete: true,
    allowedIss: issuer,
    allowedAud: audience,
    requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'jti', 'sid'],
    ignoreExpiration: true,
    ignoreNotBefore: true,
  }) as unknown as (token: string) => Promise<{ payload: JWTPayload }>;

  /**
   * Tokens already verified, by their whole text: a repeated token costs a map lookup. Safe because
   * an entry is the result of the full verification of exactly that string (any altered byte is
   * another key), it is never served at or past the token's `exp`, the algorithm, issuer, audience
   * and keys it was checked against do not change while the process runs (a key leaves the ring
   * only after every token it signed has expired), and the session check — revocation, disabling,
   * role — still runs on every request after it. Bounded, so it cannot grow without limit.
   */
  const verified = boundedCache<string, VerifiedAccessToken>({
    entries: VERIFIED_CACHE_SIZE,
    bytes: VERIFIED_CACHE_BYTES,
    sizeOf: (_, token) => token.length + VERIFIED_ENTRY_BYTES,
  });
  /**
   * Token texts that failed for good — a bad signature, a malformed token, another algorithm or
   * type, a foreign issuer or audience, a missing claim, expiry: the same text fails the same way
   * every time, so a repeated bad token costs a lookup, no more than a good one. Failures that can
   * pass later (an unknown key, a token not valid yet) are never kept.
   */
  const refused = boundedCache<string, InvalidTokenError>({
    entries: REFUSED_CACHE_SIZE,
    bytes: REFUSED_CACHE_BYTES,
    sizeOf: (_, token) => token.length + REFUSED_ENTRY_BYTES,
  });

  /**
   * The one verification of our access tokens: signature, algorithm, type, issuer, audience and
   * every claim. Expiry is left to the caller, since revocation (RFC 7009) takes expired tokens too.
   */
  async function check(token: string, now: Date): Promise<VerifiedAccessToken> {
    await keys.refresh();
    let payload: JWTPayload;
    try {
      ({ payload } = await verifySignature(token));
    } catch (error) {
      const invalid = new InvalidTokenError(describe(error), { cause: error });
      if (isFinal(error)) refused.set(token, invalid);
      throw invalid;
    }
    const seconds = now.getTime() / 1000;
    const { sub, jti, iat, exp, nbf, sid, scope, role, username, client_id, auth_time, amr } = payload;
    for (const [claim, value] of [
      ['exp', exp],
      ['iat', iat],
      ['auth_time', auth_time],
    ] as const) {
      if (typeof value !== 'number')
        throw new InvalidTokenError(`the token's ${claim} claim is not a number`);
    }
    if (nbf !== undefined && typeof nbf !== 'number')
      throw new InvalidTokenError("the token's nbf claim is not a number");
    if ((iat as number) > seconds + CLOCK_SKEW_SECONDS)
      throw new InvalidTokenError('the token was issued in the future');
    if (nbf !== undefined && nbf > seconds + CLOCK_SKEW_SECONDS)
      throw new InvalidTokenError('the token is not valid yet');
    for (const [claim, value] of [
      ['sub', sub],
      ['sid', sid],
      ['jti', jti],
      ['scope', scope],
      ['role', role],
      ['username', username],
      ['client_id', client_id],
    ] as const) {
      if (typeof value !== 'string') throw new InvalidTokenError(`the token is missing the ${claim} claim`);
    }
    if (!(ROLES as readonly string[]).includes(role as string))
      throw new InvalidTokenError("the token's role claim is not accepted");
    const scopes = (scope as string).split(' ').filter(Boolean);
    if (!scopes.every(isScope)) throw new InvalidTokenError('the token has an unknown scope');
    if (!Array.isArray(amr) || !amr.every((method) => typeof method === 'string'))
      throw new InvalidTokenError('the token is missing the amr claim');
    // The level is derived from the methods, never read on its own: the two cannot disagree.
    const methods = parseAmr(amr.join(' '));
    return {
      userId: sub as string,
      username: username as string,
      role: role as Role,
      scopes,
      sessionId: sid as string,
      clientId: client_id as string,
      authTime: new Date((auth_time as number) * 1000),
      amr: methods,
      acr: acrOf(methods),
      tokenId: jti as string,
      issuedAt: new Date((iat as number) * 1000),
      expiresAt: new Date((exp as number) * 1000),
    };
  }

  async function verify(token: string): Promise<VerifiedAccessToken> {
    const now = clock.now();
    const cached = verified.get(token);
    options.onLookup?.(cached !== undefined && now < cached.expiresAt);
    if (cached && now < cached.expiresAt) return cached;
    // The very error met the first time, thrown again: no new stack is captured for a known bad token.
    const refusal = refused.get(token);
    if (refusal !== undefined) throw refusal;
    const result = await check(token, now);
    if (result.expiresAt.getTime() + CLOCK_SKEW_SECONDS * 1000 <= now.getTime()) {
      const expired = new InvalidTokenError('the token has expired');
      refused.set(token, expired);
      throw expired;
    }
    if (now < result.expiresAt) verified.set(token, result);
    return result;
  }

  /**
   * RFC 7009 §2.1: the same checks as `verify` (so a token revokes its session only if it would have
   * been accepted), except that an expired token still names its session. Answers nothing for a token
   * that is not one of ours; a revocation request never tells why.
   */
  async function sessionOf(token: string): Promise<string | undefined> {
    try {
      return (await check(token, clock.now())).sessionId;
    } catch (error) {
      if (error instanceof InvalidTokenError) return undefined;
      throw error;
    }
  }

  return { ttlSeconds, issue, verify, sessionOf };
}

/** RFC 9068 §4: `at+jwt`, also written with the media type's `application/` prefix (RFC 7515 §4.1.9). */
function isAccessTokenType(typ: unknown): boolean {
  return typeof typ === 'string' && typ.toLowerCase().replace(/^application\//, '') === TOKEN_TYPE;
}

const FAST_JWT_DESCRIPTIONS: Record<string, string> = {
  FAST_JWT_INVALID_SIGNATURE: 'the token signature is invalid',
  FAST_JWT_MISSING_SIGNATURE: 'the token signature is missing',
  FAST_JWT_MALFORMED: 'the token is malformed',
  FAST_JWT_INVALID_ALGORITHM: 'the token algorithm is not accepted',
  FAST_JWT_INVALID_CRIT_HEADER: 'the token names an extension (crit) this server does not understand',
};

/** A description for WWW-Authenticate that names the check that refused the token. */
function describe(error: unknown): string {
  if (error instanceof InvalidTokenError) return error.message;
  if (error instanceof TokenError) {
    const original = (error as TokenError & { originalError?: unknown }).originalError;
    if (original instanceof InvalidTokenError) return original.message;
    if (error.code === 'FAST_JWT_MISSING_REQUIRED_CLAIM') {
      const claim = /^The (\w+) claim is required/.exec(error.message)?.[1];
      return claim ? `the token is missing the ${claim} claim` : 'the token is missing claims';
    }
    if (error.code === 'FAST_JWT_INVALID_CLAIM_VALUE' || error.code === 'FAST_JWT_INVALID_CLAIM_TYPE') {
      const claim = /\b(iss|aud|sub|jti)\b/.exec(error.message)?.[1];
      return claim
        ? `the token's ${claim} claim is not accepted`
        : 'the token has a claim that is not accepted';
    }
    return FAST_JWT_DESCRIPTIONS[error.code] ?? 'the token is malformed or not accepted';
  }
  return 'the token is malformed or not accepted';
}
