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
import { type Kysely, sql } from 'kysely';
import { insertAuditEvents } from '../audit/repository.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { type Clock, DAY_MS, HOUR_MS } from '../clock.ts';
import { isPostgres } from '../db/dialect.ts';
import type { ScheduledJob } from '../db/scheduled-jobs.ts';
import type { Database, NewAuditEvent } from '../db/schema.ts';
import { createKeyCipher, isSealed, type KeyCipher, KeyEncryptionError } from './key-encryption.ts';
import { serverSecretContext } from './server-secrets.ts';

export const ALGORITHMS = ['HS256', 'RS256', 'ES256', 'EdDSA'] as const;
export type SigningAlgorithm = (typeof ALGORITHMS)[number];

/** Clock skew the verifier allows: a retired key must outlive its last token by this much too. */
const SKEW_SECONDS = 30;
/**
 * How often an instance re-reads the key table (new keys, rotations made elsewhere): every 30 s, or
 * more often when the JWKS max-age is short, so a published key is known well before it signs.
 */
const reloadInterval = (maxAgeSeconds: number) => Math.min(30_000, maxAgeSeconds * 500);
/** An unknown kid may mean a key made a moment ago elsewhere: re-read, but at most this often. */
const UNKNOWN_KID_RELOAD_MS = 5_000;

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

/** Shorter than the access-token lifetime (API.md), and a new key waits this long before it signs. */
export function jwksMaxAge(accessTokenTtlSeconds: number): number {
  return Math.max(1, Math.min(300, Math.floor(accessTokenTtlSeconds / 2)));
}

async function keyFrom(
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
function generateKeyJwk(alg: SigningAlgorithm): JWK {
  if (alg === 'HS256') return { kty: 'oct', k: base64url.encode(randomBytes(32)), alg };
  const { privateKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), alg };
}

function materialOf(alg: SigningAlgorithm, jwkText: string): Uint8Array | KeyObject {
  const jwk = JSON.parse(jwkText) as JWK;
  if (alg === 'HS256') return base64url.decode(jwk.k ?? '');
  return createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
}

type Db = Kysely<Database>;

/** Where a stored key is bound to (the GCM additional data): a sealed key moved to another row does not open. */
const keyContext = (kid: string) => `signing_keys:${kid}`;

/** Inserts a freshly generated key that starts signing `delaySeconds` from now, sealed by `cipher`. */
async function insertGeneratedKey(
  db: Db,
  alg: SigningAlgorithm,
  now: Date,
  delaySeconds: number,
  cipher: KeyCipher,
) {
  const jwk = generateKeyJwk(alg);
  const key = await keyFrom(alg, materialOf(alg, JSON.stringify(jwk)), now);
  const activatesAt = new Date(now.getTime() + delaySeconds * 1000);
  await db
    .insertInto('signing_keys')
    .values({
      kid: key.kid,
      alg,
      private_jwk: cipher.seal(JSON.stringify(jwk), keyContext(key.kid)),
      created_at: now,
      activates_at: activatesAt,
    })
    .onConflict((oc) => oc.column('kid').doNothing())
    .execute();
  return { kid: key.kid, activatesAt };
}

/**
 * `inkgate rotate-keys`: a new database key, published now and signing once every cached JWKS can
 * hold it. Runs under a lock so that concurrent rotations (several instances on a schedule) make one.
 * With `onlyIfOlderThanDays`, does nothing unless the newest key is at least that old.
 */
export async function rotateKeys(
  db: Db,
  options: {
    alg: SigningAlgorithm;
    now: Date;
    accessTokenTtlSeconds: number;
    onlyIfOlderThanDays?: number;
    /**
     * Seals the new key at rest: createKeyCipher(KEY_ENCRYPTION_KEY), the same the instances use.
     * Required, so no caller can store a key in the clear by leaving it out; a cipher made without a
     * key (no KEY_ENCRYPTION_KEY) stores keys as they are, as the instances themselves do.
     */
    cipher: KeyCipher;
    /** Records key_rotated with the new key (kid and times only, never key material). */
    audit?: AuditTrail;
  },
): Promise<{ kid: string; activatesAt: Date } | undefined> {
  let events: NewAuditEvent[] = [];
  // A key sealed otherwise than the ones already kept would be one that some instance cannot open:
  // the kept ones must open with this cipher, and keys kept in the clear mean instances without
  // KEY_ENCRYPTION_KEY (an instance that has it seals them at its start).
  await requireStoredKeysOpen(db, options.cipher);
  if (options.cipher.sealing) {
    const stored = await db.selectFrom('signing_keys').select('private_jwk').execute();
    if (stored.length > 0 && !stored.some((row) => isSealed(row.private_jwk))) {
      throw new KeyEncryptionError(
        'KEY_ENCRYPTION_KEY: the keys kept in the database are not encrypted, so the instances run without KEY_ENCRYPTION_KEY; give rotate-keys the settings they use',
      );
    }
  }
  const rotated = await db.transaction().execute(async (trx) => {
    if (isPostgres(trx)) {
      await sql`select pg_advisory_xact_lock(hashtext('inkgate:key-rotation'))`.execute(trx);
    }
    if (options.onlyIfOlderThanDays !== undefined) {
      const cutoff = new Date(options.now.getTime() - options.onlyIfOlderThanDays * DAY_MS);
      const recent = await trx
        .selectFrom('signing_keys')
        .select('kid')
        .where('alg', '=', options.alg)
        .where('created_at', '>', cutoff)
        .executeTakeFirst();
      if (recent) return undefined;
    }
    // The first key of its algorithm has no predecessor to outlast: it signs at once.
    const existing = await trx
      .selectFrom('signing_keys')
      .select('kid')
      .where('alg', '=', options.alg)
      .executeTakeFirst();
    const delay = existing ? jwksMaxAge(options.accessTokenTtlSeconds) : 0;
    const key = await insertGeneratedKey(trx, options.alg, options.now, delay, options.cipher);
    events = options.audit ? [keyEvent(options.audit, key, options.alg, options.onlyIfOlderThanDays)] : [];
    await insertAuditEvents(trx, events);
    return key;
  });
  options.audit?.published(events);
  return rotated;
}

function keyEvent(
  audit: AuditTrail,
  key: { kid: string; activatesAt: Date },
  alg: SigningAlgorithm,
  scheduleDays: number | undefined,
): NewAuditEvent {
  return audit.event('key_rotated', {
    details: {
      kid: key.kid,
      alg,
      activates_at: key.activatesAt.toISOString(),
      trigger: scheduleDays === undefined ? 'manual' : 'schedule',
    },
  });
}

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

/**
 * JWT_KEY_ROTATION_DAYS as a scheduled job, once across the instances: never on the request path,
 * where generating an RS256 key would hold a request (and the event loop) for a long moment. The new
 * key is published at once and signs only after the JWKS max-age, so every instance has reloaded it
 * (every 30 s) well before it signs. Undefined when keys come from configuration or rotation is off.
 */
export function keyRotationJob(db: Db, settings: KeySettings, audit?: AuditTrail): ScheduledJob | undefined {
  if (settings.rotationDays === undefined) return undefined;
  if (settings.secret !== undefined || settings.privateKey !== undefined) return undefined;
  const cipher = createKeyCipher(settings.encryptionKey);
  const rotationDays = settings.rotationDays;
  return {
    name: 'rotate-keys',
    everyMs: HOUR_MS,
    run: async (now) => {
      const rotated = await rotateKeys(db, {
        alg: settings.alg,
        now,
        accessTokenTtlSeconds: settings.accessTokenTtlSeconds,
        onlyIfOlderThanDays: rotationDays,
        cipher,
        audit,
      });
      return { keysRotated: rotated ? 1 : 0 };
    },
  };
}

/** Opens every sealed key and server secret once; throws KeyEncryptionError for the first that does not. */
async function requireStoredKeysOpen(db: Db, cipher: KeyCipher): Promise<void> {
  const keys = await db.selectFrom('signing_keys').select(['kid', 'private_jwk']).execute();
  for (const row of keys) cipher.open(row.private_jwk, keyContext(row.kid));
  const secrets = await db.selectFrom('server_secrets').select(['name', 'value']).execute();
  for (const row of secrets) cipher.open(row.value, serverSecretContext(row.name));
}

/**
 * Seals, in place, every key and server secret kept before KEY_ENCRYPTION_KEY was set, so that from
 * the first start with it the database holds no usable key on its own.
 */
async function sealStoredKeys(db: Db, cipher: KeyCipher): Promise<void> {
  const keys = await db.selectFrom('signing_keys').select(['kid', 'private_jwk']).execute();
  for (const row of keys.filter((key) => !isSealed(key.private_jwk))) {
    await db
      .updateTable('signing_keys')
      .set({ private_jwk: cipher.seal(row.private_jwk, keyContext(row.kid)) })
      .where('kid', '=', row.kid)
      .where('private_jwk', '=', row.private_jwk)
      .execute();
  }
  const secrets = await db.selectFrom('server_secrets').select(['name', 'value']).execute();
  for (const row of secrets.filter((secret) => !isSealed(secret.value))) {
    await db
      .updateTable('server_secrets')
      .set({ value: cipher.seal(row.value, serverSecretContext(row.name)) })
      .where('name', '=', row.name)
      .where('value', '=', row.value)
      .execute();
  }
}
