import { createHash, randomBytes } from 'node:crypto';

/** Every personal access token starts so: secret scanners (and people) can tell a leaked one. */
export const PERSONAL_TOKEN_PREFIX = 'ink_pat_';
/** The prefix, then 256 random bits in base64url (43 characters, no padding). */
const FORM = /^ink_pat_[A-Za-z0-9_-]{43}$/;
/** Session-cache keys of personal tokens: never a session id (those are UUIDs). */
const KEY_PREFIX = 'pat:';

/** SHA-256 (base64url): 256 random bits need no slow hash, and only this is stored. */
export const hashPersonalToken = (token: string): string =>
  createHash('sha256').update(token).digest('base64url');

/** A new token and the hash that is stored. */
export function newPersonalToken(): { token: string; hash: string } {
  const token = PERSONAL_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashPersonalToken(token) };
}

/** The session-cache key of a stored token, by its hash. */
export const personalTokenKey = (hash: string): string => KEY_PREFIX + hash;

/** The session-cache key of a token as sent, or undefined when it does not have the form at all. */
export function keyOfPersonalToken(token: string): string | undefined {
  return FORM.test(token) ? personalTokenKey(hashPersonalToken(token)) : undefined;
}

/** The hash a session-cache key names, or undefined when the key is a session's. */
export function hashOfKey(key: string): string | undefined {
  return key.startsWith(KEY_PREFIX) ? key.slice(KEY_PREFIX.length) : undefined;
}
