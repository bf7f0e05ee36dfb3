import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createManualClock } from '../../src/clock.ts';
import { keySettings, loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { KeyEncryptionError } from '../../src/keys/key-encryption.ts';
import { loadKeyRing } from '../../src/keys/key-ring.ts';
import { keyRotationJob } from '../../src/keys/stored-keys.ts';
import {
  bearer,
  buildTestApp,
  captureLogs,
  createStorage,
  createUser,
  describeEachEngine,
  loginPair,
  refresh,
} from '../helpers/app.ts';

const KEK = Buffer.alloc(32, 7).toString('base64');
const OTHER_KEK = Buffer.alloc(32, 9).toString('base64');

test('SQLite: the data folder inkgate creates is 0700 and the database, -wal and -shm files are 0600', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'inkgate-modes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'data', 'inkgate.db');
  const database = openDatabase(`sqlite:${path}`);
  t.after(() => database.close());
  await migrateToLatest(database.db);
  const mode = (file: string) => statSync(file).mode & 0o777;
  assert.equal(mode(join(dir, 'data')), 0o700);
  for (const file of [path, `${path}-wal`, `${path}-shm`]) assert.equal(mode(file), 0o600, file);
});

describeEachEngine('keys and secrets at rest', (engine) => {
  test('with KEY_ENCRYPTION_KEY every stored key and secret is sealed; the rows alone hold no usable key', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { KEY_ENCRYPTION_KEY: KEK, JWT_ALG: 'ES256' } });
    const user = await createUser(testApp);
    const pair = await loginPair(testApp, user); // uses the device-cookie key
    assert.equal((await refresh(testApp, pair.refresh_token)).statusCode, 200); // and the successor key
    const { db } = testApp.database;
    const keys = await db.selectFrom('signing_keys').selectAll().execute();
    const secrets = await db.selectFrom('server_secrets').selectAll().execute();
    assert.equal(keys.length, 1);
    assert.deepEqual(secrets.map((row) => row.name).sort(), [
      'device_cookie_key',
      'refresh_token_successor_key',
    ]);
    for (const stored of [...keys.map((row) => row.private_jwk), ...secrets.map((row) => row.value)]) {
      assert.match(stored, /^enc:v1:[\w-]+\.[\w-]+\.[\w-]+$/);
      assert.doesNotMatch(stored, /"d"|"kty"|"crv"/);
    }

    // A scheduled rotation seals its key with the instances' KEY_ENCRYPTION_KEY too.
    const rotating = loadConfig({
      ISSUER: 'http://inkgate.test',
      JWT_ALG: 'ES256',
      KEY_ENCRYPTION_KEY: KEK,
      JWT_KEY_ROTATION_DAYS: '1',
    });
    testApp.clock.advance(2 * 86_400_000);
    assert.deepEqual(await keyRotationJob(db, keySettings(rotating))?.run(testApp.clock.now()), {
      keysRotated: 1,
    });
    const rotated = await db.selectFrom('signing_keys').select('private_jwk').execute();
    assert.equal(rotated.length, 2);
    for (const { private_jwk } of rotated) assert.match(private_jwk, /^enc:v1:/);

    // Another process with the database but without the key (or with another one) cannot use it.
    const without = loadConfig({ ISSUER: 'http://inkgate.test', JWT_ALG: 'ES256' });
    await assert.rejects(
      loadKeyRing({ db, clock: testApp.clock, settings: keySettings(without) }),
      KeyEncryptionError,
    );
    const wrong = loadConfig({
      ISSUER: 'http://inkgate.test',
      JWT_ALG: 'ES256',
      KEY_ENCRYPTION_KEY: OTHER_KEK,
    });
    await assert.rejects(
      loadKeyRing({ db, clock: testApp.clock, settings: keySettings(wrong) }),
      KeyEncryptionError,
    );
  });

  test('keys kept before KEY_ENCRYPTION_KEY was set are sealed at the first start with it, and keep working', async (t) => {
    const url = engine === 'sqlite' ? await createStorage(t) : await createStorage(t, engine);
    const clock = createManualClock(new Date());
    const before = await buildTestApp(t, { engine, url, clock });
    const user = await createUser(before);
    const pair = await loginPair(before, user);
    const plain = await before.database.db
      .selectFrom('signing_keys')
      .select('private_jwk')
      .executeTakeFirstOrThrow();
    assert.match(plain.private_jwk, /^\{/, 'stored as it was, without the key');

    const after = await buildTestApp(t, { engine, url, clock, env: { KEY_ENCRYPTION_KEY: KEK } });
    const sealed = await after.database.db
      .selectFrom('signing_keys')
      .select('private_jwk')
      .executeTakeFirstOrThrow();
    assert.match(sealed.private_jwk, /^enc:v1:/);
    const me = await after.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: bearer(pair.access_token),
    });
    assert.equal(me.statusCode, 200, 'a token signed before verifies after');
    assert.equal(
      (await refresh(after, pair.refresh_token)).statusCode,
      200,
      'the successor key is the same one',
    );
  });
  test('an instance whose KEY_ENCRYPTION_KEY does not open what the database keeps refuses to start; met while serving it is a 503, never a 500', async (t) => {
    const url = engine === 'sqlite' ? await createStorage(t) : await createStorage(t, engine);
    const clock = createManualClock(new Date());
    // The first instance uses JWT_SECRET (no key in the database) and seals its server secrets.
    const env = { KEY_ENCRYPTION_KEY: KEK, JWT_SECRET: 'a-secret-of-at-least-thirty-two-bytes!!' };
    const first = await buildTestApp(t, { engine, url, clock, env });
    const user = await createUser(first);
    await loginPair(first, user); // makes and seals device_cookie_key
    const { db } = first.database;
    const settingsWith = (extra: Record<string, string>) =>
      keySettings(loadConfig({ ISSUER: 'http://inkgate.test', JWT_SECRET: env.JWT_SECRET, ...extra }));
    for (const extra of [{ KEY_ENCRYPTION_KEY: OTHER_KEK }, {}] as Array<Record<string, string>>) {
      await assert.rejects(loadKeyRing({ db, clock, settings: settingsWith(extra) }), (error: unknown) => {
        assert.ok(error instanceof KeyEncryptionError);
        assert.match(error.reason, /^KEY_ENCRYPTION_KEY: /);
        return true;
      });
    }
    await loadKeyRing({ db, clock, settings: settingsWith({ KEY_ENCRYPTION_KEY: KEK }) }); // the same key opens

    // Two instances started at once on an empty database, one with another key: its first use of a
    // secret the other sealed is a 503 with Retry-After, and the log names the cause.
    const { logger, lines } = captureLogs();
    const second = await buildTestApp(t, {
      engine,
      url,
      clock,
      logger,
      env: { ...env, KEY_ENCRYPTION_KEY: OTHER_KEK, JWT_SECRET: env.JWT_SECRET },
    }).catch((error: unknown) => error);
    assert.ok(second instanceof KeyEncryptionError, 'refused at start, as it should be');
    const late = await buildTestApp(t, {
      engine,
      clock,
      logger,
      env: { ...env, KEY_ENCRYPTION_KEY: OTHER_KEK },
    });
    const stranger = await createUser(late);
    await late.database.db
      .insertInto('server_secrets')
      .values({
        name: 'device_cookie_key',
        value: (
          await db
            .selectFrom('server_secrets')
            .select('value')
            .where('name', '=', 'device_cookie_key')
            .executeTakeFirstOrThrow()
        ).value,
        created_at: clock.now(),
      })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value: (eb) => eb.ref('excluded.value') }))
      .execute();
    const answer = await late.app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username: stranger.username, password: stranger.password }).toString(),
    });
    assert.equal(answer.statusCode, 503, answer.body);
    assert.equal(answer.json().error, 'server_error', 'RFC 6749 §5.2 at /token');
    assert.equal(answer.headers['retry-after'], '30');
    assert.doesNotMatch(answer.body, /KEY_ENCRYPTION_KEY/, 'the operator’s business, in the log');
    assert.ok(
      lines.some((line) => /KEY_ENCRYPTION_KEY: a key kept in the database does not open/.test(line)),
    );
  });
});
