import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, type TestContext, test } from 'node:test';
import { createManualClock } from '../../src/clock.ts';
import { createWindowCounter } from '../../src/http/rate-limits.ts';
import { createRedisLoginThrottle } from '../../src/login/throttle.ts';
import { connectRedis } from '../../src/redis/shared-redis.ts';
import {
  bearer,
  buildTestApp,
  captureLogs,
  connectTestRedis,
  createStorage,
  createUser,
  type EngineName,
  engines,
  login,
  loginPair,
  signedIn,
  type TestApp,
  unreadableFeed,
} from '../helpers/app.ts';
import { hiddenFields, injectBrowser, pkce } from '../helpers/browser-flow.ts';
import { startProxy } from '../helpers/proxy.ts';

/** Two instances sharing one database (a SQLite file, or a PostgreSQL schema) and one Redis, as behind a load balancer. */
async function twoInstances(t: TestContext, engine: EngineName) {
  const url = await createStorage(t, engine);
  const clock = createManualClock(new Date());
  const prefix = `inkgate-test:${randomUUID()}:`;
  // The change feed cannot be read here, so what reaches b within 100 ms came through Redis.
  const sessionFeed = unreadableFeed;
  const a = await buildTestApp(t, {
    engine,
    url,
    clock,
    sessionFeed,
    redis: await connectTestRedis(t, prefix),
  });
  const b = await buildTestApp(t, {
    engine,
    url,
    clock,
    sessionFeed,
    redis: await connectTestRedis(t, prefix),
  });
  await Promise.all([a.app.ready(), b.app.ready()]); // ready once both hear each other's revocations
  assert.equal((await a.app.inject({ method: 'GET', url: '/readyz' })).json().redis, 'ok');
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

/**
 * The app first, then its Redis, then the proxy in front of Redis: cut in another order, Redis
 * would drop under a live app and a client still reconnecting, and a command of ioredis's own cut
 * off at close would reject unheard.
 */
async function closeInOrder(
  testApp: TestApp | undefined,
  redis: { close(): Promise<void> },
  proxy: { close(): Promise<void> | void },
) {
  await testApp?.app.close();
  await redis.close();
  await proxy.close();
}

const me = (testApp: TestApp, token: string) =>
  testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) }).then((r) => r.statusCode);

for (const engine of engines()) {
  describe(`with Redis [${engine}]`, {
    skip: process.env.TEST_REDIS_URL ? false : 'needs TEST_REDIS_URL',
  }, () => {
    test('a revocation on one instance reaches another within 100 ms (pub/sub), not only after the 1 s cache age', async (t) => {
      const { a, b } = await twoInstances(t, engine);
      const user = await createUser(a);
      const pair = await loginPair(a, user);
      assert.equal(await me(b, pair.access_token), 200, 'b has the session cached as live');

      await a.app.inject({ method: 'DELETE', url: '/users/me/sessions', headers: bearer(pair.access_token) });
      const elapsed = await statusWithin(100, () => me(b, pair.access_token), 401);
      assert.ok(elapsed <= 100, `b refused the token after ${elapsed.toFixed(1)} ms`);
    });

    test('a demotion on one instance reaches another within 100 ms [ASVS V8.3.2]', async (t) => {
      const { a, b } = await twoInstances(t, engine);
      const boss = await signedIn(a, { role: 'admin' });
      const deputy = await signedIn(a, { role: 'admin' });
      const listUsers = () =>
        b.app
          .inject({ method: 'GET', url: '/users', headers: bearer(deputy.token) })
          .then((r) => r.statusCode);
      assert.equal(await listUsers(), 200);
      await a.app.inject({
        method: 'PATCH',
        url: `/users/${deputy.user.id}`,
        headers: bearer(boss.token),
        payload: { role: 'user' },
      });
      assert.ok((await statusWithin(100, listUsers, 403)) <= 100);
    });

    test('a personal access token revoked on one instance is refused by another within 100 ms', async (t) => {
      const { a, b } = await twoInstances(t, engine);
      const { token } = await signedIn(a);
      const made = await a.app.inject({
        method: 'POST',
        url: '/users/me/tokens',
        headers: bearer(token),
        payload: { name: 'script', scopes: ['profile'] },
      });
      assert.equal(made.statusCode, 201, made.body);
      const pat = made.json() as { id: string; token: string };
      assert.equal(await me(b, pat.token), 200, 'b has the token cached as live');
      const revoked = await a.app.inject({
        method: 'DELETE',
        url: `/users/me/tokens/${pat.id}`,
        headers: bearer(token),
      });
      assert.equal(revoked.statusCode, 204);
      const elapsed = await statusWithin(100, () => me(b, pat.token), 401);
      assert.ok(elapsed <= 100, `b refused the token after ${elapsed.toFixed(1)} ms`);
    });

    test('failed logins are counted across instances', async (t) => {
      const { a, b } = await twoInstances(t, engine);
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
}

test('Redis outage: serving and revoking go on, one warning is logged, and Redis is used again when it returns', {
  skip: process.env.TEST_REDIS_URL ? false : 'needs TEST_REDIS_URL',
}, async (t) => {
  const target = new URL(process.env.TEST_REDIS_URL!);
  const proxy = await startProxy(target.hostname, Number(target.port || 6379));
  const { logger, lines } = captureLogs();
  const redis = connectRedis(`redis://127.0.0.1:${proxy.port}`, `inkgate-test:${randomUUID()}:`, logger);
  let testApp: TestApp | undefined;
  t.after(() => closeInOrder(testApp, redis, proxy));
  await new Promise((resolve) => redis.client.once('ready', resolve));
  testApp = await buildTestApp(t, { redis });
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

test('a subscription that fails (Redis down at start) is logged, shown by /readyz and /metrics, and retried until it holds', {
  skip: process.env.TEST_REDIS_URL ? false : 'needs TEST_REDIS_URL',
}, async (t) => {
  const target = new URL(process.env.TEST_REDIS_URL!);
  const proxy = await startProxy(target.hostname, Number(target.port || 6379));
  proxy.set('refuse');
  const prefix = `inkgate-test:${randomUUID()}:`;
  const { logger, lines } = captureLogs();
  const redis = connectRedis(`redis://127.0.0.1:${proxy.port}`, prefix, logger);
  let testApp: TestApp | undefined;
  t.after(() => closeInOrder(testApp, redis, proxy));
  const heard: unknown[] = [];
  const subscribed = redis.subscribe('probe', (message) => heard.push(message.n));
  let done = false;
  void subscribed.then(() => {
    done = true;
  });
  const waitFor = async (what: string, condition: () => boolean) => {
    const deadline = Date.now() + 8000;
    while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(condition(), what);
  };
  await waitFor('the failure is logged with its reason', () =>
    lines.some((line) => /Redis subscription failed/.test(line) && /"err":"[^"]+"/.test(line)),
  );
  assert.equal(done, false);
  assert.equal(redis.fanOutUp(), false);
  testApp = await buildTestApp(t, { redis });
  const ready = await testApp.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 200, 'still ready: serving with the 1 s bound beats not serving');
  assert.deepEqual(ready.json(), { status: 'ok', redis: 'degraded' });
  const scrape = await testApp.app.inject({ method: 'GET', url: '/metrics' });
  assert.match(scrape.body, /^inkgate_redis_fanout_up 0$/m);

  proxy.set('pass');
  await subscribed; // retried until it held
  await waitFor('the fan-out is up', () => redis.fanOutUp());
  assert.ok(lines.some((line) => /Redis subscription in place again/.test(line)));
  assert.deepEqual((await testApp.app.inject({ method: 'GET', url: '/readyz' })).json(), {
    status: 'ok',
    redis: 'ok',
  });
  assert.match(
    (await testApp.app.inject({ method: 'GET', url: '/metrics' })).body,
    /^inkgate_redis_fanout_up 1$/m,
  );
  const other = await connectTestRedis(t, prefix);
  other.publish('probe', { n: 1 });
  await waitFor('a message on the channel is heard', () => heard.length === 1);
});

test('a Redis command that fails falls back to this instance’s memory and says why, once a minute', {
  skip: process.env.TEST_REDIS_URL ? false : 'needs TEST_REDIS_URL',
}, async (t) => {
  const { logger, lines } = captureLogs();
  const redis = connectRedis(process.env.TEST_REDIS_URL!, `inkgate-test:${randomUUID()}:`, logger);
  t.after(() => redis.close());
  await new Promise((resolve) => redis.client.once('ready', resolve));
  // A script the server refuses (NOSCRIPT, OOM, a READONLY replica…), while the connection is fine.
  redis.client.eval = (async () => {
    throw new Error('OOM command not allowed when used memory > maxmemory');
  }) as typeof redis.client.eval;
  const counter = createWindowCounter(redis, createManualClock(new Date()));
  assert.deepEqual(await counter.increment('k', 60_000).then((c) => c.current), 1);
  assert.deepEqual(await counter.increment('k', 60_000).then((c) => c.current), 2, 'counted locally');
  const throttle = createRedisLoginThrottle(redis, createManualClock(new Date()));
  const attempt = await throttle.attempt({ userId: 'u', name: 'ada', address: '203.0.113.9' });
  assert.equal(attempt.allowed, true, 'the local log answers');
  const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40);
  assert.deepEqual(
    warnings.map((entry) => [entry.what, entry.err]),
    [
      ['route limits', 'OOM command not allowed when used memory > maxmemory'],
      ['failed logins', 'OOM command not allowed when used memory > maxmemory'],
    ],
    'one line per kind, with the reason',
  );
});

for (const engine of engines()) {
  describe(`the authorization flow across instances [${engine}]`, {
    skip: process.env.TEST_REDIS_URL ? false : 'needs TEST_REDIS_URL',
  }, () => {
    test('the page from one instance posts to the other, and a code issued on one is redeemed on the other; withdrawing the consent on one ends the app’s session on the other within 100 ms', async (t) => {
      const { a, b } = await twoInstances(t, engine);
      const admin = await signedIn(a, { role: 'admin' });
      const client = (
        await a.app.inject({
          method: 'POST',
          url: '/oauth-clients',
          headers: bearer(admin.token),
          payload: { name: 'Across', type: 'public', redirect_uris: ['http://127.0.0.1/cb'] },
        })
      ).json();
      const user = await createUser(a);
      const cookies = new Map<string, string>();
      const onA = injectBrowser(a, cookies);
      const onB = injectBrowser(b, cookies);
      const { verifier, challenge } = pkce();
      const url = `/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: client.client_id,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      })}`;
      const loginPage = await onA.get(url);
      const signIn = await onB.post('/account/login', {
        ...hiddenFields(loginPage.body),
        username: user.username,
        password: user.password,
      });
      assert.equal(signIn.statusCode, 303, 'a page of a is good at b: the form key is the database’s');
      const consent = await onA.get(signIn.headers.location as string);
      const approved = await onB.post('/account/consent', {
        ...hiddenFields(consent.body),
        decision: 'approve',
      });
      const code = new URL(approved.headers.location as string).searchParams.get('code')!;
      const redeemed = await a.app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          code_verifier: verifier,
          client_id: client.client_id,
        }).toString(),
      });
      assert.equal(redeemed.statusCode, 200, redeemed.body);
      const appToken = redeemed.json().access_token as string;
      assert.equal(await me(b, appToken), 200, 'b has the app’s session cached as live');

      const own = (await loginPair(a, user)).access_token;
      const withdrawn = await a.app.inject({
        method: 'DELETE',
        url: `/users/me/authorizations/${client.client_id}`,
        headers: bearer(own),
      });
      assert.equal(withdrawn.statusCode, 204);
      const elapsed = await statusWithin(100, () => me(b, appToken), 401);
      assert.ok(elapsed <= 100, `b refused the app’s token after ${elapsed.toFixed(1)} ms`);
    });
  });
}
