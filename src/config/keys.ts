import { Buffer } from 'node:buffer';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../config.ts';
import type { KeySettings } from '../keys/key-ring.ts';
import { ALGORITHMS, type SigningAlgorithm } from '../keys/signing-keys.ts';
import type { Reader } from './reader.ts';

/** The signing keys (JWT_*) and the key that seals what the database keeps (KEY_ENCRYPTION_KEY). */
export function readKeySettings(read: Reader, production: boolean) {
  const jwtAlg = read.oneOf('JWT_ALG', ALGORITHMS, 'HS256', 'ES256');
  const keyExample =
    jwtAlg === 'HS256' ? '"$(openssl rand -base64 48)"' : '@/run/secrets/inkgate-signing-key.pem';
  const jwtSecret = readSecret(read, jwtAlg, production, keyExample);
  const jwtPrivateKey = readPrivateKey(read, jwtAlg, production, keyExample);
  return {
    jwtAlg,
    jwtSecret,
    jwtPrivateKey,
    jwtPreviousKeys: Object.freeze(readPreviousKeys(read, jwtAlg)),
    jwtKeyRotationDays: readRotationDays(read, jwtSecret !== undefined || jwtPrivateKey !== undefined),
    keyEncryptionKey: readKeyEncryptionKey(read, production),
  } satisfies Partial<Config>;
}

/** JWT_SECRET: HS256 only, at least 32 bytes, required in production (taken untrimmed). */
function readSecret(read: Reader, alg: SigningAlgorithm, production: boolean, example: string) {
  const { env, bad } = read;
  const secret = env.JWT_SECRET === undefined || env.JWT_SECRET === '' ? undefined : env.JWT_SECRET;
  if (secret !== undefined && alg !== 'HS256') {
    bad('JWT_SECRET', `is for HS256; with JWT_ALG=${alg} set JWT_PRIVATE_KEY instead`, '(unset)');
  } else if (secret !== undefined && Buffer.byteLength(secret, 'utf8') < 32) {
    bad('JWT_SECRET', 'must be at least 32 bytes of UTF-8 text', example);
  }
  if (secret === undefined && alg === 'HS256' && production) {
    bad('JWT_SECRET', 'is required when NODE_ENV=production (no generated secrets)', example);
  }
  return secret;
}

/** JWT_PRIVATE_KEY: a PEM (or @file) of the kind JWT_ALG needs; required in production with RS256, ES256, EdDSA. */
function readPrivateKey(
  read: Reader,
  alg: SigningAlgorithm,
  production: boolean,
  example: string,
): KeyObject | undefined {
  const { value, bad } = read;
  const text = value('JWT_PRIVATE_KEY');
  if (text === undefined) {
    if (alg !== 'HS256' && production) {
      bad(
        'JWT_PRIVATE_KEY',
        `is required with JWT_ALG=${alg} when NODE_ENV=production (no generated keys)`,
        example,
      );
    }
    return undefined;
  }
  if (alg === 'HS256') {
    bad('JWT_PRIVATE_KEY', 'is for RS256, ES256 or EdDSA; set JWT_ALG too', 'ES256');
    return undefined;
  }
  const problem = (why: string) => bad('JWT_PRIVATE_KEY', why, example);
  const pem = readKeyText(text, problem);
  if (pem === undefined) return undefined;
  try {
    const key = createPrivateKey(pem);
    const mismatch = keyMismatch(alg, key);
    if (!mismatch) return key;
    problem(mismatch);
  } catch {
    problem('is not a PEM private key (PKCS#8, PKCS#1 or SEC1)');
  }
  return undefined;
}

/** JWT_PREVIOUS_KEYS: comma-separated secrets (HS256) or public keys that still verify tokens. */
function readPreviousKeys(read: Reader, alg: SigningAlgorithm): Array<Uint8Array | KeyObject> {
  const keys: Array<Uint8Array | KeyObject> = [];
  const text = read.value('JWT_PREVIOUS_KEYS');
  if (text === undefined) return keys;
  const problem = (why: string) =>
    read.bad(
      'JWT_PREVIOUS_KEYS',
      why,
      alg === 'HS256' ? '"old-secret-of-32-bytes-or-more…"' : '@/etc/inkgate/old-public.pem',
    );
  for (const item of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const itemText = readKeyText(item, problem);
    if (itemText === undefined) continue;
    if (alg === 'HS256') {
      if (Buffer.byteLength(itemText, 'utf8') < 32) problem('each HS256 secret must be at least 32 bytes');
      else keys.push(new TextEncoder().encode(itemText));
      continue;
    }
    for (const block of itemText.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [
      itemText,
    ]) {
      try {
        const key = createPublicKey(block);
        const mismatch = keyMismatch(alg, key);
        if (mismatch) problem(mismatch);
        else keys.push(key);
      } catch {
        problem('holds something that is not a PEM public key');
      }
    }
  }
  return keys;
}

/** JWT_KEY_ROTATION_DAYS: rotates the keys kept in the database, never keys given in settings. */
function readRotationDays(read: Reader, keyGiven: boolean): number | undefined {
  const text = read.value('JWT_KEY_ROTATION_DAYS');
  if (text === undefined || text === 'off') return undefined;
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1) {
    read.bad('JWT_KEY_ROTATION_DAYS', `"${text}" is not a whole number of days (or off)`, '90');
  } else if (keyGiven) {
    read.bad(
      'JWT_KEY_ROTATION_DAYS',
      'rotates keys kept in the database; keys from JWT_SECRET or JWT_PRIVATE_KEY are yours to rotate',
      'off',
    );
  } else {
    return Number(text);
  }
  return undefined;
}

/** KEY_ENCRYPTION_KEY: 32 bytes in base64; required in production. */
function readKeyEncryptionKey(read: Reader, production: boolean): Uint8Array | undefined {
  const example = '"$(openssl rand -base64 32)"';
  const text = read.value('KEY_ENCRYPTION_KEY');
  if (text === undefined) {
    if (production) {
      read.bad(
        'KEY_ENCRYPTION_KEY',
        'is required when NODE_ENV=production: it seals the server keys inkgate keeps in the database',
        example,
      );
    }
    return undefined;
  }
  const bytes = Buffer.from(text, 'base64');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && bytes.length === 32) return new Uint8Array(bytes);
  read.bad('KEY_ENCRYPTION_KEY', 'must be 32 bytes in base64', example);
  return undefined;
}

/** `@path` reads a file; anything else is the text itself. */
function readKeyText(text: string, problem: (why: string) => void): string | undefined {
  if (!text.startsWith('@')) return text.replace(/\\n/g, '\n');
  try {
    return readFileSync(text.slice(1), 'utf8');
  } catch {
    problem(`cannot read the file ${text.slice(1)}`);
    return undefined;
  }
}

/** Why `key` cannot serve `alg` (RFC 7518 §3.3: RSA keys of 2048 bits or more), or undefined. */
function keyMismatch(alg: SigningAlgorithm, key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (alg === 'RS256') {
    if (type !== 'rsa') return `is a ${type} key; RS256 needs an RSA key`;
    if ((details.modulusLength ?? 0) < 2048) return 'is an RSA key shorter than 2048 bits';
  }
  if (alg === 'ES256' && (type !== 'ec' || details.namedCurve !== 'prime256v1')) {
    return `is a ${type} key; ES256 needs an EC key on P-256`;
  }
  if (alg === 'EdDSA' && type !== 'ed25519') return `is a ${type} key; EdDSA needs an Ed25519 key`;
  return undefined;
}

/** The key settings of a configuration, as loadKeyRing takes them. */
export function keySettings(config: Config): KeySettings {
  return {
    alg: config.jwtAlg,
    secret: config.jwtSecret,
    privateKey: config.jwtPrivateKey,
    previousKeys: config.jwtPreviousKeys,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    rotationDays: config.jwtKeyRotationDays,
    encryptionKey: config.keyEncryptionKey,
  };
}
