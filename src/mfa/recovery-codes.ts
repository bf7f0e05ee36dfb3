import { createHash, randomBytes } from 'node:crypto';

/** Crockford's base32: no i, l, o or u, so nothing is misread when a code is typed from paper. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
export const RECOVERY_CODE_COUNT = 10;
/**
 * 24 characters of 5 bits: 120 random bits a code. API.md asks at least 80; ASVS 5.0 V6.5.2 lets a
 * secret of 112 bits or more be stored with a plain hash (no password hash, no Argon2 queue).
 */
const LENGTH = 24;

/** A fresh set, as shown once: `xxxx-xxxx-xxxx-xxxx-xxxx-xxxx`. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const bytes = randomBytes(15); // 120 bits
    let bits = 0n;
    for (const byte of bytes) bits = (bits << 8n) | BigInt(byte);
    let text = '';
    for (let i = 0; i < LENGTH; i += 1) {
      text = ALPHABET[Number(bits & 31n)]! + text;
      bits >>= 5n;
    }
    return text.match(/.{4}/g)!.join('-');
  });
}

/**
 * A code as typed → its canonical form, or undefined when it cannot be one: any case, spaces and
 * hyphens anywhere, and the letters people read for digits (o → 0, i and l → 1), as Crockford's
 * decoding does.
 */
export function normaliseRecoveryCode(typed: string): string | undefined {
  if (typed.length > 64) return undefined;
  const text = typed.toLowerCase().replace(/[\s-]/g, '').replace(/o/g, '0').replace(/[il]/g, '1');
  return text.length === LENGTH && [...text].every((char) => ALPHABET.includes(char)) ? text : undefined;
}

/** What is stored: SHA-256 of the canonical form (120 random bits need no slow hash). */
export const hashRecoveryCode = (canonical: string): string =>
  createHash('sha256').update(`inkgate:recovery:${canonical}`).digest('base64url');
