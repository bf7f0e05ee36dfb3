import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createManualClock } from '../../src/clock.ts';
import { claimJob } from '../../src/db/scheduled-jobs.ts';
import { createKeyCipher } from '../../src/keys/key-encryption.ts';
import { type KeySettings, loadKeyRing } from '../../src/keys/key-ring.ts';
import type { SigningAlgorithm } from '../../src/keys/signing-keys.ts';
import { keyRotationJob, rotateKeys } from '../../src/keys/stored-keys.ts';
import { createStorage, openTestDatabase } from '../helpers/app.ts';

const TTL = 900;
const settings = (alg: SigningAlgorithm, extra: Partial<KeySettings> = {}): KeySettings => ({
  alg,
  secret: undefined,
  privateKey: undefined,
  previousKeys: [],
  encryptionKey: undefined,
  accessTokenTtlSeconds: TTL,
  rotationDays: undefined,
  ...extra,
});

test('keys: the first start generates a key; a second instance on the same database signs with the same one', async (t) => {
  const url = await createStorage(t);
  const clock = createManualClock(new Date());
  const a = await loadKeyRing({
    db: (await openTestDatabase(t, 'sqlite', { url })).db,
    clock,
    settings: settings('ES256'),
  });
  const b = await loadKeyRing({
    db: (await openTestDatabase(t, 'sqlite', { url })).db,
    clock,
    settings: settings('ES256'),
  });
  assert.equal(a.current().kid, b.current().kid);
  assert.equal(a.jwksMaxAgeSeconds, 300);
  const [jwk] = a.publicJwks();
  assert.deepEqual(Object.keys(jwk!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  assert.equal(jwk!.use, 'sig');
});

for (const alg of ['HS256', 'RS256', 'ES256', 'EdDSA'] as const) {
  test(`keys: rotation under ${alg}: published at once, signing after the JWKS max-age, the old key retired after its tokens`, async (t) => {
    const url = await createStorage(t);
    const clock = createManualClock(new Date());
    const db = (await openTestDatabase(t, 'sqlite', { url })).db;
    const ring = await loadKeyRing({ db, clock, settings: settings(alg) });
    const other = await loadKeyRing({
      db: (await openTestDatabase(t, 'sqlite', { url })).db,
      clock,
      settings: settings(alg),
    });
    const old = ring.current().kid;

    const rotated = await rotateKeys(db, {
      alg,
      now: clock.now(),
      accessTokenTtlSeconds: TTL,
      cipher: createKeyCipher(undefined),
    });
    assert.ok(rotated);
    clock.advance(30_000); // the reload interval
    await ring.refresh();
    await other.refresh();
    const published = ring.publicJwks().map((jwk) => jwk.kid);
    if (alg === 'HS256') assert.deepEqual(published, [], 'a secret is never published');
    else assert.deepEqual(published.sort(), [old, rotated.kid].sort(), 'both keys are published');
    assert.equal(ring.current().kid, old, 'the old key signs until every cached JWKS holds the new one');
    assert.ok(ring.find(rotated.kid), 'the new key already verifies');

    clock.set(rotated.activatesAt);
    assert.equal(ring.current().kid, rotated.kid, 'the new key signs from its activation');
    assert.equal(other.current().kid, rotated.kid, 'on every instance, without a restart');
    assert.ok(ring.find(old), 'tokens signed by the old key still verify');

    clock.advance((TTL + 30) * 1000 - 1);
    assert.ok(ring.find(old));
    clock.advance(1);
    assert.equal(ring.find(old), undefined, 'once its last token has expired, the old key is gone');
    assert.deepEqual(
      ring.publicJwks().map((jwk) => jwk.kid),
      alg === 'HS256' ? [] : [rotated.kid],
    );
  });
}

test('keys: JWT_KEY_ROTATION_DAYS rotates as a scheduled job, once across instances, never on the request path', async (t) => {
  const url = await createStorage(t);
  const clock = createManualClock(new Date());
  const dbA = (await openTestDatabase(t, 'sqlite', { url })).db;
  const dbB = (await openTestDatabase(t, 'sqlite', { url })).db;
  const rotating = settings('EdDSA', { rotationDays: 7 });
  const a = await loadKeyRing({ db: dbA, clock, settings: rotating });
  const b = await loadKeyRing({ db: dbB, clock, settings: rotating });
  const first = a.current().kid;
  const count = async () => (await dbA.selectFrom('signing_keys').select('kid').execute()).length;
  // What each instance's scheduler does when it looks (claimJob: one run per period across them).
  const runBoth = () =>
    Promise.all(
      [dbA, dbB].map(async (db) => {
        const job = keyRotationJob(db, rotating);
        assert.ok(job);
        if (await claimJob(db, job.name, job.everyMs, clock.now())) await job.run(clock.now());
      }),
    );

  clock.advance(6 * 86_400_000);
  await runBoth();
  assert.equal(await count(), 1, 'not due yet');

  clock.advance(86_400_000);
  await Promise.all([a.refresh(), b.refresh()]);
  assert.equal(await count(), 1, 'a key-ring reload (on the request path) generates nothing');
  await runBoth();
  assert.equal(await count(), 2, 'one new key, however many instances run the job');
  clock.advance(30_000);
  await Promise.all([a.refresh(), b.refresh()]);
  assert.equal(a.current().kid, first, 'published first');
  clock.advance(300_000);
  assert.notEqual(a.current().kid, first);
  assert.equal(a.current().kid, b.current().kid);

  assert.equal(keyRotationJob(dbA, settings('EdDSA')), undefined, 'off without JWT_KEY_ROTATION_DAYS');
  // The cipher is required: no caller can store a key in the clear by leaving it out.
  // @ts-expect-error -- cipher is missing
  await assert.rejects(rotateKeys(dbA, { alg: 'EdDSA', now: clock.now(), accessTokenTtlSeconds: TTL }));
  const configured = settings('HS256', { rotationDays: 7, secret: 'x'.repeat(32) });
  assert.equal(keyRotationJob(dbA, configured), undefined, 'keys from configuration rotate there');
});

test('keys: configured keys and JWT_PREVIOUS_KEYS verify; previous keys never sign', async (t) => {
  const { generateKeyPairSync } = await import('node:crypto');
  const db = (await openTestDatabase(t)).db;
  const clock = createManualClock(new Date());
  const current = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const previous = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ring = await loadKeyRing({
    db,
    clock,
    settings: settings('ES256', { privateKey: current.privateKey, previousKeys: [previous.publicKey] }),
  });
  assert.equal(ring.managed, false);
  assert.equal(ring.publicJwks().length, 2);
  const previousKid = ring.publicJwks()[1]!.kid;
  assert.ok(ring.find(previousKid));
  assert.notEqual(ring.current().kid, previousKid);
  assert.equal(
    (await db.selectFrom('signing_keys').select('kid').execute()).length,
    0,
    'nothing generated or stored',
  );
});
