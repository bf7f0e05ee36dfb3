import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createManualClock } from '../../src/clock.ts';
import { type KeySettings, loadKeyRing, rotateKeys, type SigningAlgorithm } from '../../src/tokens/keys.ts';
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

    const rotated = await rotateKeys(db, { alg, now: clock.now(), accessTokenTtlSeconds: TTL });
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

test('keys: JWT_KEY_ROTATION_DAYS rotates on schedule, once across instances', async (t) => {
  const url = await createStorage(t);
  const clock = createManualClock(new Date());
  const dbA = (await openTestDatabase(t, 'sqlite', { url })).db;
  const dbB = (await openTestDatabase(t, 'sqlite', { url })).db;
  const a = await loadKeyRing({ db: dbA, clock, settings: settings('EdDSA', { rotationDays: 7 }) });
  const b = await loadKeyRing({ db: dbB, clock, settings: settings('EdDSA', { rotationDays: 7 }) });
  const first = a.current().kid;

  clock.advance(6 * 86_400_000);
  await Promise.all([a.refresh(), b.refresh()]);
  assert.equal((await dbA.selectFrom('signing_keys').select('kid').execute()).length, 1, 'not due yet');

  clock.advance(86_400_000);
  await Promise.all([a.refresh(), b.refresh()]);
  const keys = await dbA.selectFrom('signing_keys').select('kid').execute();
  assert.equal(keys.length, 2, 'one new key, however many instances noticed');
  assert.equal(a.current().kid, first, 'published first');
  clock.advance(300_000);
  assert.notEqual(a.current().kid, first);
  assert.equal(a.current().kid, b.current().kid);
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
