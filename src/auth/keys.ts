import { randomBytes } from 'node:crypto';
import { base64url, calculateJwkThumbprint } from 'jose';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/schema.ts';

export type SigningAlgorithm = 'HS256';

export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly key: Uint8Array;
}

/**
 * The keys this instance signs and verifies with. Private or secret material never leaves this
 * module except to jose; no answer or log line carries it.
 */
export interface KeyRing {
  readonly alg: SigningAlgorithm;
  readonly current: SigningKey;
  /** The key a token's `kid` names, if it is one of ours. */
  find(kid: string): SigningKey | undefined;
}

async function hmacKey(secret: Uint8Array): Promise<SigningKey> {
  const kid = await calculateJwkThumbprint({ kty: 'oct', k: base64url.encode(secret) });
  return { kid, alg: 'HS256', key: secret };
}

function ringOf(current: SigningKey): KeyRing {
  return { alg: current.alg, current, find: (kid) => (kid === current.kid ? current : undefined) };
}

/**
 * JWT_SECRET when configured; otherwise the secret kept in the database, generated on first start.
 * Instances that start together may each insert one; all of them then pick the oldest, so they agree.
 */
export async function loadKeyRing(options: {
  db: Kysely<Database>;
  clock: Clock;
  secret: string | undefined;
}): Promise<KeyRing> {
  const { db, clock, secret } = options;
  if (secret !== undefined) return ringOf(await hmacKey(new TextEncoder().encode(secret)));

  const oldest = () =>
    db
      .selectFrom('signing_keys')
      .select(['kid', 'private_jwk'])
      .where('alg', '=', 'HS256')
      .orderBy('created_at')
      .orderBy('kid')
      .limit(1)
      .executeTakeFirst();

  let row = await oldest();
  if (!row) {
    const generated = await hmacKey(new Uint8Array(randomBytes(32)));
    const jwk = JSON.stringify({ kty: 'oct', k: base64url.encode(generated.key), alg: 'HS256' });
    await db
      .insertInto('signing_keys')
      .values({ kid: generated.kid, alg: 'HS256', private_jwk: jwk, created_at: clock.now() })
      .onConflict((oc) => oc.column('kid').doNothing())
      .execute();
    row = await oldest();
  }
  if (!row) throw new Error('no signing key could be stored');
  const { k } = JSON.parse(row.private_jwk) as { k: string };
  return ringOf(await hmacKey(base64url.decode(k)));
}
