import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, type TestContext, test } from 'node:test';
import { createManualClock } from '../../src/clock.ts';
import { connectRedis } from '../../src/shared/redis.ts';
import {
  bearer,
  buildTestApp,
  captureLogs,
  connectTestRedis,
  createStorage,
  createUser,
  login,
  loginPair,
  signedIn,
  type TestApp,
} from '../helpers/app.ts';
import { startProxy } from '../helpers/proxy.ts';

/** Two instances sharing one database and one Redis, as behind a load balancer. */
async function twoInstances(t: TestContext) {
  const url = await createStorage(t);
  const clock = createManualClock(new Date());
  const prefix = `inkgate-test:${randomUUID()}:`;
  const a = await buildTestApp(t, { url, clock, redis: await connectTestRedis(t, prefix) });
  const b = await buildTestApp(t, { url, clock, redis: await connectTestRedis(t, prefix) });
  await new Promise((r) => setTimeout(r, 50)); // let both subscriptions settle
  return { a, b, clock };
}

/** Polls (real time, the manual clock stands still) until `status` comes back, or gives up. */
async function statusWithin(ms: number, probe: () => Promise<number>, status: number) {
  const started = performance.now();
  for (;;) {
    const got = await probe();
    const elapsed = performance.now() - started;
    if (got === status) return elapsed;
    if (elapsed > ms) return Number.POSITIVE_INFINITY;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const me = (testApp: TestApp, token: string) =>
  testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) }).then((r) => r.statusCode);

describe('with Redis', { skip: process.env.TEST_REDIS_URL ? false : 'needs TEST_REDIS_URL' }, () => {
  test('a revocation on one instance reaches another within 100 ms (pub/sub), not only after the 1 s cache age', async (t) => {
    const { a, b } = await twoInstances(t);
    const user = await createUser(a);
    const pair = await loginPair(a, user);
    assert.equal(await me(b, pair.access_token), 200, 'b has the session cached as live');

    await a.app.inject({ method: 'DELETE', url: '/users/me/sessions', headers: bearer(pair.access_token) });
    const elapsed = await statusWithin(100, () => me(b, pair.access_token), 401);
    assert.ok(elapsed <= 100, `b refused the token after ${elapsed.toFixed(1)} ms`);
  });

  test('a demotion on one instance reaches another within 100 ms [ASVS V8.3.2]', async (t) => {
    const { a, b } = await twoInstances(t);
    const boss = await signedIn(a, { role: 'admin' });
    const deputy = await signedIn(a, { role: 'admin' });
    const listUsers = () =>
      b.app.inject({ method: 'GET', url: '/users', headers: bearer(deputy.token) }).then((r) => r.statusCode);
    assert.equal(await listUsers(), 200);
    await a.app.inject({
      method: 'PATCH',
      url: `/users/${deputy.user.id}`,
      headers: bearer(boss.token),
      payload: { role: 'user' },
    });
    assert.ok((await statusWithin(100, listUsers, 403)) <= 100);
  });

  test('failed logins are counted across instances', async (t) => {
    const { a, b } = await twoInstances(t);
    const user = await createUser(a);
    const wrong = { ...user, password: 'not the password' };
    for (const instance of [a, b, a, b, a]) assert.equal((await login(instance, wrong)).statusCode, 400);
    const blocked = await login(b, user);
    assert.equal(
      blocked.statusCode,
      429,
      'the sixth attempt, on the other instance, with the right password',
    );
    assert.equal(blocked.json().error, 'slow_down');
    assert.equal((await login(a, user)).statusCode, 429);
  });
});

test('Redis outage: serving and revoking go on, one warning is logged, and Redis is used again when it returns', {
  skip: process.env.TEST_REDIS_URL ? false : 'needs TEST_REDIS_URL',
}, async (t) => {
  const target = new URL(process.env.TEST_REDIS_URL!);
  const proxy = await startProxy(target.hostname, Number(target.port || 6379));
  t.after(() => proxy.close());
  const { logger, lines } = captureLogs();
  const redis = connectRedis(`redis://127.0.0.1:${proxy.port}`, `inkgate-test:${randomUUID()}:`, logger);
  t.after(() => redis.close());
  await new Promise((resolve) => redis.client.once('ready', resolve));
  const testApp = await buildTestApp(t, { redis });
  const user = await createUser(testApp);

  proxy.set('refuse');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(redis.available(), false);
  const pair = await loginPair(testApp, user);
  assert.equal(await me(testApp, pair.access_token), 200, 'serving on');
  await testApp.app.inject({
    method: 'DELETE',
    url: '/users/me/sessions',
    headers: bearer(pair.access_token),
  });
  assert.equal(await me(testApp, pair.access_token), 401, 'revocation still holds on this instance at once');
  await new Promise((r) => setTimeout(r, 500)); // more reconnect attempts: still one warning
  const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40);
  assert.equal(warnings.length, 1, lines.join('\n'));

  proxy.set('pass');
  const deadline = Date.now() + 5000;
  while (!redis.available() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(redis.available(), true, 'reconnected by itself');
  assert.ok(lines.some((line) => /Redis is back/.test(line)));
});
