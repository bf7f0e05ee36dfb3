import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
  webcrypto,
} from 'node:crypto';
import { base64url, calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

export const ALGORITHMS = ['HS256', 'RS256', 'ES256', 'EdDSA'] as const;
export type SigningAlgorithm = (typeof ALGORITHMS)[number];

/** The members of a public JWK that may be published (RFC 7518 §6); nothing private can be among them. */
export interface PublicJwk {
  kty: string;
  kid: string;
  alg: SigningAlgorithm;
  use: 'sig';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

export interface SigningKey {
  /** RFC 7638 thumbprint: of the public key, or of the secret (oct JWK) under HS256. */
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** What signs: the secret, or the private key (a non-extractable WebCrypto key once loaded). */
  readonly signingKey: webcrypto.CryptoKey | KeyObject;
  /** What verifies (jose): the secret, or the public key. */
  readonly verificationKey: webcrypto.CryptoKey | KeyObject;
  /** The same for node:crypto's synchronous verification on the request path: the secret, or SPKI PEM. */
  readonly syncVerificationKey: Buffer | string;
  /** The public JWK for the JWKS; none for secrets. */
  readonly publicJwk: PublicJwk | undefined;
  /** From when it signs (published in the JWKS before that, so cached JWKS already hold it). */
  readonly activatesAt: Date;
}

export async function keyFrom(
  alg: SigningAlgorithm,
  material: Uint8Array | KeyObject,
  activatesAt: Date,
): Promise<SigningKey> {
  if (material instanceof Uint8Array) {
    const kid = await calculateJwkThumbprint({ kty: 'oct', k: base64url.encode(material) });
    const key = await webcrypto.subtle.importKey('raw', material, WEBCRYPTO.HS256, false, ['sign', 'verify']);
    return {
      kid,
      alg,
      signingKey: key,
      verificationKey: key,
      syncVerificationKey: Buffer.from(material),
      publicJwk: undefined,
      activatesAt,
    };
  }
  const publicKey = material.type === 'private' ? createPublicKey(material) : material;
  const { kty, crv, x, y, n, e } = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint({ kty, crv, x, y, n, e });
  const publicJwk: PublicJwk = { kty: kty ?? '', kid, alg, use: 'sig', crv, x, y, n, e };
  for (const name of ['crv', 'x', 'y', 'n', 'e'] as const)
    if (publicJwk[name] === undefined) delete publicJwk[name];
  return {
    kid,
    alg,
    signingKey:
      material.type === 'private' ? material.toCryptoKey(WEBCRYPTO[alg], false, ['sign']) : material,
    verificationKey: publicKey.toCryptoKey(WEBCRYPTO[alg], false, ['verify']),
    syncVerificationKey: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    publicJwk,
    activatesAt,
  };
}

/**
 * Keys are turned into WebCrypto keys once, bound to their algorithm: jose then skips a conversion on
 * every token (about 40% of an HS256 verification), and a key can never serve another algorithm.
 */
const WEBCRYPTO = {
  HS256: { name: 'HMAC', hash: 'SHA-256' },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  EdDSA: { name: 'Ed25519' },
} as const;

/** A new key for `alg`, as stored in the database: a private JWK (or an oct JWK under HS256). */
export function generateKeyJwk(alg: SigningAlgorithm): JWK {
  if (alg === 'HS256') return { kty: 'oct', k: base64url.encode(randomBytes(32)), alg };
  const { privateKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), alg };
}

export function materialOf(alg: SigningAlgorithm, jwkText: string): Uint8Array | KeyObject {
  const jwk = JSON.parse(jwkText) as JWK;
  if (alg === 'HS256') return base64url.decode(jwk.k ?? '');
  return createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
}

/** Shorter than the access-token lifetime (API.md), and a new key waits this long before it signs. */
export function jwksMaxAge(accessTokenTtlSeconds: number): number {
  return Math.max(1, Math.min(300, Math.floor(accessTokenTtlSeconds / 2)));
}
