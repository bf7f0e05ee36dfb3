import { randomBytes } from 'node:crypto';
import { onHashThread } from './password-threads.ts';

/**
 * Argon2id with OWASP's first recommended parameters (m=19 MiB, t=2, p=1), by @node-rs/argon2 on
 * threads of its own at nice 10 (password-threads.ts, hash-worker.ts), so hashing never
 * blocks the event loop nor takes a busy core from it. These parameters live only here.
 */
// algorithm 2 is Algorithm.Argon2id (a const enum, which erasable-only TypeScript cannot import).
const PARAMETERS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Passwords are compared as Unicode NFKC, so the same password typed on two keyboards matches. */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

export async function hashPassword(password: string): Promise<string> {
  return (await onHashThread({
    op: 'hash',
    password: normalizePassword(password),
    options: PARAMETERS,
  })) as string;
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    const matched = await onHashThread({
      op: 'verify',
      hash: passwordHash,
      password: normalizePassword(password),
    });
    return matched === true;
  } catch {
    return false; // a malformed stored hash never matches
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Verifies against a hash of a random password, so that an unknown login costs what a wrong password
 * does and timing does not tell which usernames exist. Always false.
 */
export async function verifyDummyPassword(password: string): Promise<false> {
  dummyHash ??= hashPassword(randomBytes(24).toString('base64'));
  await verifyPassword(await dummyHash, password);
  return false;
}
