import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import { insertAuditEvents } from '../audit/repository.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/schema.ts';
import { createKeyCipher } from './key-encryption.ts';
import {
  jwksMaxAge,
  keyFrom,
  materialOf,
  type PublicJwk,
  type SigningAlgorithm,
  type SigningKey,
} from './signing-keys.ts';
import { insertGeneratedKey, keyContext, requireStoredKeysOpen, sealStoredKeys } from './stored-keys.ts';

/** Clock skew the verifier allows: a retired key must outlive its last token by this much too. */
const SKEW_SECONDS = 30;
/**
 * How often an instance re-reads the key table (new keys, rotations made elsewhere): every 30 s, or
 * more often when the JWKS max-age is short, so a published key is known well before it signs.
 */
const reloadInterval = (maxAgeSeconds: number) => Math.min(30_000, maxAgeSeconds * 500);
/** An unknown kid may mean a key made a moment ago elsewhere: re-read, but at most this often. */
const UNKNOWN_KID_RELOAD_MS = 5_000;

/**
 * The keys this instance signs and verifies with: the current signing key, keys published ahead of
 * their activation, and previous keys while tokens they signed can still be valid.
 */
export interface KeyRing {
  readonly alg: SigningAlgorithm;
  /** Seconds that verifiers may cache the JWKS; a new key signs only after this has passed. */
  readonly jwksMaxAgeSeconds: number;
  /** Whether keys live in the database (generated, rotatable) or come from configuration. */
  readonly managed: boolean;
  current(): SigningKey;
  /** The key a token's `kid` names, if it is one of ours and still valid. */
  find(kid: string): SigningKey | undefined;
  /** Public JWKs of every key that verifies now (RFC 7517), each with kid, alg and use. */
  publicJwks(): PublicJwk[];
  /** Re-reads the database when the last read is older than the reload interval (no-op otherwise). */
  refresh(options?: { unknownKid?: boolean }): Promise<void>;
}

export interface KeySettings {
  readonly alg: SigningAlgorithm;
  /** HS256 secret from JWT_SECRET. */
  readonly secret: string | undefined;
  /** The private key from JWT_PRIVATE_KEY. */
  readonly privateKey: KeyObject | undefined;
  /** JWT_PREVIOUS_KEYS: verification-only keys managed outside inkgate. */
  readonly previousKeys: ReadonlyArray<Uint8Array | KeyObject>;
  readonly accessTokenTtlSeconds: number;
  /** Rotate database keys on their own after this many days (JWT_KEY_ROTATION_DAYS); off when undefined. */
  readonly rotationDays: number | undefined;
  /** KEY_ENCRYPTION_KEY: seals the keys and secrets kept in the database. */
  readonly encryptionKey: Uint8Array | undefined;
}

type Db = Kysely<Database>;

/**
 * Keys from configuration (JWT_SECRET or JWT_PRIVATE_KEY) when set; otherwise the database's, generated
 * on first start (outside production). Instances that start together may each insert a key; all of
 * them then sign with the same one, the oldest active.
 */
export async function loadKeyRing(options: {
  db: Db;
  clock: Clock;
  settings: KeySettings;
  /** Records key_rotated for the first key and for each scheduled rotation. */
  audit?: AuditTrail;
}): Promise<KeyRing> {
  const { db, clock, settings, audit } = options;
  const { alg } = settings;
  const cipher = createKeyCipher(settings.encryptionKey);
  // Every instance must hold the KEY_ENCRYPTION_KEY that sealed what the database keeps: checked
  // here, so an instance with another one (or none) refuses to start instead of failing requests.
  await requireStoredKeysOpen(db, cipher);
  if (cipher.sealing) await sealStoredKeys(db, cipher);
  const maxAge = jwksMaxAge(settings.accessTokenTtlSeconds);
  const retireAfterMs = (settings.accessTokenTtlSeconds + SKEW_SECONDS) * 1000;
  const previous = await Promise.all(
    settings.previousKeys.map((material) => keyFrom(alg, material, new Date(0))),
  );

  const configured =
    settings.secret !== undefined
      ? new TextEncoder().encode(settings.secret)
      : settings.privateKey !== undefined
        ? settings.privateKey
        : undefined;

  if (configured) {
    const current = await keyFrom(alg, configured, new Date(0));
    const all = [current, ...previous.filter((key) => key.kid !== current.kid)];
    return {
      alg,
      jwksMaxAgeSeconds: maxAge,
      managed: false,
      current: () => current,
      find: (kid) => all.find((key) => key.kid === kid),
      publicJwks: () => all.flatMap((key) => (key.publicJwk ? [key.publicJwk] : [])),
      refresh: async () => {},
    };
  }

  // Database keys, sorted by activation. A key signs from its activation until the next one's; it
  // verifies until the next one's activation plus one token lifetime (plus skew).
  let stored: SigningKey[] = [];
  let loadedAt = 0;
  let unknownKidAt = 0;

  const load = async () => {
    const rows = await db
      .selectFrom('signing_keys')
      .selectAll()
      .where('alg', '=', alg)
      .orderBy('created_at')
      .orderBy('kid')
      .execute();
    const keys = await Promise.all(
      rows.map((row) =>
        keyFrom(
          alg,
          materialOf(alg, cipher.open(row.private_jwk, keyContext(row.kid))),
          row.activates_at ?? row.created_at,
        ),
      ),
    );
    // Same activation time (instances that generated at once): the first in (created_at, kid) order wins.
    stored = keys.sort((a, b) => a.activatesAt.getTime() - b.activatesAt.getTime());
    loadedAt = clock.now().getTime();
  };

  await load();
  if (stored.length === 0) {
    const events = await db.transaction().execute(async (trx) => {
      const key = await insertGeneratedKey(trx, alg, clock.now(), 0, cipher);
      const first = audit
        ? [audit.event('key_rotated', { details: { kid: key.kid, alg, trigger: 'first' } })]
        : [];
      await insertAuditEvents(trx, first);
      return first;
    });
    audit?.published(events);
    await load();
  }

  const currentIndex = (now: number) => {
    let index = 0;
    for (let i = 0; i < stored.length; i += 1) {
      if (
        stored[i]!.activatesAt.getTime() <= now &&
        stored[i]!.activatesAt.getTime() > stored[index]!.activatesAt.getTime()
      ) {
        index = i;
      }
    }
    return index;
  };

  const valid = (now: number): SigningKey[] => {
    const current = currentIndex(now);
    return stored.filter((key, i) => {
      if (i >= current) return true; // the current key, and keys published ahead of activation
      const next = stored
        .slice(i + 1)
        .find((later) => later.activatesAt.getTime() > key.activatesAt.getTime());
      return next !== undefined && next.activatesAt.getTime() + retireAfterMs > now;
    });
  };

  return {
    alg,
    jwksMaxAgeSeconds: maxAge,
    managed: true,
    current: () => stored[currentIndex(clock.now().getTime())]!,
    find: (kid) => {
      const now = clock.now().getTime();
      return [...valid(now), ...previous].find((key) => key.kid === kid);
    },
    publicJwks: () => {
      const now = clock.now().getTime();
      return [...valid(now), ...previous].flatMap((key) => (key.publicJwk ? [key.publicJwk] : []));
    },
    refresh: async (refreshOptions = {}) => {
      const now = clock.now().getTime();
      const due = now - loadedAt >= reloadInterval(maxAge) || now < loadedAt;
      const unknownDue = refreshOptions.unknownKid === true && now - unknownKidAt >= UNKNOWN_KID_RELOAD_MS;
      if (!due && !unknownDue) return;
      if (unknownDue) unknownKidAt = now;
      loadedAt = now; // one reload at a time, even if requests pile up while it runs
      await load();
    },
  };
}
