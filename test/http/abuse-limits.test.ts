import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { createHashQueue } from '../../src/accounts/hash-queue.ts';
import { ServiceUnavailableError } from '../../src/http/errors.ts';
import {
  bearer,
  buildTestApp,
  connectTestRedis,
  createStorage,
  describeEachEngine,
  signedIn,
  type TestApp,
  uniqueName,
} from '../helpers/app.ts';

function signup(testApp: TestApp, remoteAddress: string) {
  const username = uniqueName('sig');
  return testApp.app.inject({
    method: 'POST',
    url: '/users',
    remoteAddress,
    payload: { username, email: `${username}@example.com`, password: 'a long enough passphrase' },
  });
}

function assertLimited(response: Awaited<ReturnType<TestApp['app']['inject']>>, policy: string) {
  assert.equal(response.statusCode, 429);
  assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
  const seconds = Number(response.headers['retry-after']);
  assert.ok(seconds >= 1, String(response.headers['retry-after']));
  assert.equal(response.headers['ratelimit-policy'], policy);
  assert.equal(response.headers.ratelimit, `${policy.split(';')[0]};r=0;t=${seconds}`);
  assert.equal(response.json().status, 429);
}

describeEachEngine('abuse limits', (engine) => {
  test('signup: RATE_LIMIT_SIGNUP per canonical address per hour, then a 429 problem with Retry-After and RateLimit headers [API4:2023] [API6:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { RATE_LIMIT_SIGNUP: '3' } });
    for (let i = 0; i < 3; i += 1) {
      const created = await signup(testApp, '203.0.113.1');
      assert.equal(created.statusCode, 201);
      assert.equal(created.headers['ratelimit-policy'], '"signup";q=3;w=3600');
      assert.match(String(created.headers.ratelimit), new RegExp(`^"signup";r=${2 - i};t=\\d+$`));
    }
    assertLimited(await signup(testApp, '203.0.113.1'), '"signup";q=3;w=3600');
    assertLimited(await signup(testApp, '::ffff:203.0.113.1'), '"signup";q=3;w=3600');
    assert.equal((await signup(testApp, '203.0.113.2')).statusCode, 201, 'another address has its own count');
    const users = await testApp.database.db.selectFrom('users').select('id').execute();
    assert.equal(users.length, 4, 'a refused signup creates nothing');
  });

  test('post writes: RATE_LIMIT_WRITES per user per minute, counted after the guard [API4:2023] [API6:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { RATE_LIMIT_WRITES: '2' } });
    const a = await signedIn(testApp);
    const b = await signedIn(testApp);
    const write = (token: string) =>
      testApp.app.inject({
        method: 'POST',
        url: '/posts',
        headers: bearer(token),
        payload: { title: 't', content: 'c' },
      });
    assert.equal((await write(a.token)).statusCode, 201);
    const id = (await write(a.token)).json().id;
    assertLimited(await write(a.token), '"writes";q=2;w=60');
    const remove = await testApp.app.inject({
      method: 'DELETE',
      url: `/posts/${id}`,
      headers: bearer(a.token),
    });
    assertLimited(remove, '"writes";q=2;w=60');
    assert.equal((await write(b.token)).statusCode, 201, 'another user has their own count');
    const anonymous = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      payload: { title: 't', content: 'c' },
    });
    assert.equal(anonymous.statusCode, 401, 'no token is 401, not a count');
  });
});

describe('the password-hash queue', () => {
  test('runs at most HASH_CONCURRENCY at once, queues HASH_QUEUE more, and refuses beyond that at once with 503', async () => {
    const queue = createHashQueue({ concurrency: 2, maxWaiting: 1 });
    const releases: Array<() => void> = [];
    const task = () => new Promise<void>((resolve) => releases.push(resolve));
    const running = [queue.run(task), queue.run(task), queue.run(task)];
    assert.equal(queue.running, 2);
    assert.equal(queue.waiting, 1);
    await assert.rejects(queue.run(task), (error: unknown) => {
      assert.ok(error instanceof ServiceUnavailableError);
      assert.equal(error.headers['retry-after'], '1');
      return true;
    });
    releases.shift()!();
    await running[0];
    assert.equal(queue.running, 2, 'the waiting one started');
    assert.equal(queue.waiting, 0);
    for (const release of releases.splice(0)) release();
    await Promise.all(running);
    assert.equal(queue.running, 0);
  });

  test('a signup flood of 200 from many addresses: beyond the queue 503 at once; GET /users/me keeps answering [API4:2023] [API6:2023]', async (t) => {
    const testApp = await buildTestApp(t, { env: { HASH_CONCURRENCY: '1', HASH_QUEUE: '8' } });
    const { token } = await signedIn(testApp);
    const flood = Array.from({ length: 200 }, (_, i) => signup(testApp, `198.18.${i >> 8}.${i & 255}`));
    const meAnswers: number[] = [];
    const probing = (async () => {
      for (let i = 0; i < 20; i += 1) {
        const me = await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
        meAnswers.push(me.statusCode);
      }
    })();
    const answers = await Promise.all(flood);
    await probing;
    assert.deepEqual(meAnswers, Array(20).fill(200));
    const statuses = answers.map((response) => response.statusCode);
    assert.ok(statuses.includes(201));
    const refused = answers.filter((response) => response.statusCode === 503);
    assert.ok(refused.length > 100, `${refused.length} refused`);
    for (const response of refused) {
      assert.equal(response.headers['retry-after'], '1');
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    }
    assert.deepEqual([...new Set(statuses)].sort(), [201, 503]);
  });
});

test('signup limit [redis]: the count is shared by every instance', {
  skip: process.env.TEST_REDIS_URL ? false : 'needs TEST_REDIS_URL',
}, async (t) => {
  const prefix = `inkgate-test:${randomUUID()}:`;
  const url = await createStorage(t);
  const env = { RATE_LIMIT_SIGNUP: '2' };
  const a = await buildTestApp(t, { url, env, redis: await connectTestRedis(t, prefix) });
  const b = await buildTestApp(t, { url, env, redis: await connectTestRedis(t, prefix) });
  assert.equal((await signup(a, '203.0.113.77')).statusCode, 201);
  assert.equal((await signup(b, '203.0.113.77')).statusCode, 201);
  assertLimited(await signup(a, '203.0.113.77'), '"signup";q=2;w=3600');
  assertLimited(await signup(b, '203.0.113.77'), '"signup";q=2;w=3600');
});
