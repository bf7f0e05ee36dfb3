import { Buffer } from 'node:buffer';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../config.ts';
import type { KeySettings } from '../keys/key-ring.ts';
import { ALGORITHMS, type SigningAlgorithm } from '../keys/signing-keys.ts';
import type { Reader } from './reader.ts';

/** The signing keys (JWT_*) and the key that seals what the database keeps (KEY_ENCRYPTION_KEY). */
export function readKeySettings(read: Reader, production: boolean) {
  const { env, value, bad } = read;
  const algText = value('JWT_ALG') ?? 'HS256';
  const jwtAlg = (ALGORITHMS as readonly string[]).includes(algText)
    ? (algText as SigningAlgorithm)
    : 'HS256';
  if (jwtAlg !== algText) bad('JWT_ALG', `"${algText}" is not one of ${ALGORITHMS.join(', ')}`, 'ES256');
  const keyExample =
    jwtAlg === 'HS256' ? '"$(openssl rand -base64 48)"' : '@/run/secrets/inkgate-signing-key.pem';

  const jwtSecret = env.JWT_SECRET === undefined || env.JWT_SECRET === '' ? undefined : env.JWT_SECRET;
  if (jwtSecret !== undefined && jwtAlg !== 'HS256') {
    bad('JWT_SECRET', `is for HS256; with JWT_ALG=${jwtAlg} set JWT_PRIVATE_KEY instead`, '(unset)');
  } else if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret, 'utf8') < 32) {
    bad('JWT_SECRET', 'must be at least 32 bytes of UTF-8 text', keyExample);
  }
  if (jwtSecret === undefined && jwtAlg === 'HS256' && production) {
    bad('JWT_SECRET', 'is required when NODE_ENV=production (no generated secrets)', keyExample);
  }

  let jwtPrivateKey: KeyObject | undefined;
  const privateText = value('JWT_PRIVATE_KEY');
  if (privateText !== undefined) {
    if (jwtAlg === 'HS256') {
      bad('JWT_PRIVATE_KEY', 'is for RS256, ES256 or EdDSA; set JWT_ALG too', 'ES256');
    } else {
      const problem = (why: string) => bad('JWT_PRIVATE_KEY', why, keyExample);
      const pem = readKeyText(privateText, problem);
      if (pem !== undefined) {
        try {
          jwtPrivateKey = createPrivateKey(pem);
          const mismatch = keyMismatch(jwtAlg, jwtPrivateKey);
          if (mismatch) {
            problem(mismatch);
            jwtPrivateKey = undefined;
          }
        } catch {
          problem('is not a PEM private key (PKCS#8, PKCS#1 or SEC1)');
        }
      }
    }
  } else if (jwtAlg !== 'HS256' && production) {
    bad(
      'JWT_PRIVATE_KEY',
      `is required with JWT_ALG=${jwtAlg} when NODE_ENV=production (no generated keys)`,
      keyExample,
    );
  }

  const jwtPreviousKeys: Array<Uint8Array | KeyObject> = [];
  const previousText = value('JWT_PREVIOUS_KEYS');
  if (previousText !== undefined) {
    const problem = (why: string) =>
      bad(
        'JWT_PREVIOUS_KEYS',
        why,
        jwtAlg === 'HS256' ? '"old-secret-of-32-bytes-or-more…"' : '@/etc/inkgate/old-public.pem',
      );
    for (const item of previousText
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)) {
      const text = readKeyText(item, problem);
      if (text === undefined) continue;
      if (jwtAlg === 'HS256') {
        if (Buffer.byteLength(text, 'utf8') < 32) problem('each HS256 secret must be at least 32 bytes');
        else jwtPreviousKeys.push(new TextEncoder().encode(text));
        continue;
      }
      for (const block of text.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [text]) {
        try {
          const key = createPublicKey(block);
          const mismatch = keyMismatch(jwtAlg, key);
          if (mismatch) problem(mismatch);
          else jwtPreviousKeys.push(key);
        } catch {
          problem('holds something that is not a PEM public key');
        }
      }
    }
  }

  let jwtKeyRotationDays: number | undefined;
  const rotationText = value('JWT_KEY_ROTATION_DAYS');
  if (rotationText !== undefined && rotationText !== 'off') {
    if (!/^\d{1,4}$/.test(rotationText) || Number(rotationText) < 1) {
      bad('JWT_KEY_ROTATION_DAYS', `"${rotationText}" is not a whole number of days (or off)`, '90');
    } else if (jwtSecret !== undefined || jwtPrivateKey !== undefined) {
      bad(
        'JWT_KEY_ROTATION_DAYS',
        'rotates keys kept in the database; keys from JWT_SECRET or JWT_PRIVATE_KEY are yours to rotate',
        'off',
      );
    } else {
      jwtKeyRotationDays = Number(rotationText);
    }
  }

  let keyEncryptionKey: Uint8Array | undefined;
  const kekText = value('KEY_ENCRYPTION_KEY');
  if (kekText !== undefined) {
    const bytes = Buffer.from(kekText, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(kekText) || bytes.length !== 32) {
      bad('KEY_ENCRYPTION_KEY', 'must be 32 bytes in base64', '"$(openssl rand -base64 32)"');
    } else {
      keyEncryptionKey = new Uint8Array(bytes);
    }
  } else if (production) {
    bad(
      'KEY_ENCRYPTION_KEY',
      'is required when NODE_ENV=production: it seals the server keys inkgate keeps in the database',
      '"$(openssl rand -base64 32)"',
    );
  }

  return {
    jwtAlg,
    jwtSecret,
    jwtPrivateKey,
    jwtPreviousKeys: Object.freeze(jwtPreviousKeys),
    jwtKeyRotationDays,
    keyEncryptionKey,
  } satisfies Partial<Config>;
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
