import { insertAuditEvents } from '../audit/repository.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { DAY_MS, HOUR_MS } from '../clock.ts';
import { isPostgres } from '../db/dialect.ts';
import { type Kysely, sql } from '../db/kysely.ts';
import type { ScheduledJob } from '../db/scheduled-jobs.ts';
import type { Database, NewAuditEvent } from '../db/schema.ts';
import { createKeyCipher, isSealed, type KeyCipher, KeyEncryptionError } from './key-encryption.ts';
import type { KeySettings } from './key-ring.ts';
import { serverSecretContext } from './server-secrets.ts';
import { generateKeyJwk, jwksMaxAge, keyFrom, materialOf, type SigningAlgorithm } from './signing-keys.ts';

type Db = Kysely<Database>;

/** Where a stored key is bound to (the GCM additional data): a sealed key moved to another row does not open. */
export const keyContext = (kid: string) => `signing_keys:${kid}`;

/** Inserts a freshly generated key that starts signing `delaySeconds` from now, sealed by `cipher`. */
export async function insertGeneratedKey(
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
export async function requireStoredKeysOpen(db: Db, cipher: KeyCipher): Promise<void> {
  const keys = await db.selectFrom('signing_keys').select(['kid', 'private_jwk']).execute();
  for (const row of keys) cipher.open(row.private_jwk, keyContext(row.kid));
  const secrets = await db.selectFrom('server_secrets').select(['name', 'value']).execute();
  for (const row of secrets) cipher.open(row.value, serverSecretContext(row.name));
}

/**
 * Seals, in place, every key and server secret kept before KEY_ENCRYPTION_KEY was set, so that from
 * the first start with it the database holds no usable key on its own.
 */
export async function sealStoredKeys(db: Db, cipher: KeyCipher): Promise<void> {
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
