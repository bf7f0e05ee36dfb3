import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, type TestContext, test } from 'node:test';
import { createManualClock } from '../../src/clock.ts';
import {
  createMemoryLoginThrottle,
  createRedisLoginThrottle,
  type LoginThrottle,
} from '../../src/login/throttle.ts';
import { connectRedis } from '../../src/redis/shared-redis.ts';
import { captureLogs, connectTestRedis } from '../helpers/app.ts';

const MINUTE = 60_000;
const login = (account: string, address: string, trusted?: string) => ({
  userId: account,
  name: account,
  address,
  trusted,
});
type Clock = ReturnType<typeof createManualClock>;

/** The per-instance throttle always; the Redis one too when TEST_REDIS_URL is set (CI sets it). */
const kinds: Array<[string, (t: TestContext, clock: Clock) => Promise<LoginThrottle>]> = [
  ['memory', async (_t, clock) => createMemoryLoginThrottle(clock)],
];
if (process.env.TEST_REDIS_URL) {
  kinds.push([
    'redis',
    async (t, clock) =>
      createRedisLoginThrottle(await connectTestRedis(t, `inkgate-test:${randomUUID()}:`), clock),
  ]);
}

async function fail(throttle: LoginThrottle, account: string, address: string) {
  const attempt = await throttle.attempt(login(account, address));
  assert.equal(attempt.allowed, true, `${account} from ${address} should be allowed`);
}

for (const [kind, make] of kinds) {
  describe(`throttle [${kind}]`, () => {
    test('the window slides: after the oldest failure ages out, exactly one more attempt is allowed [ASVS V6.3.1]', async (t) => {
      const clock = createManualClock();
      const throttle = await make(t, clock);
      for (let i = 0; i < 5; i += 1) {
        await fail(throttle, 'alice', '1.1.1.1');
        clock.advance(MINUTE);
      }
      // Failures at minutes 0..4; now minute 5.
      assert.deepEqual(await throttle.attempt(login('alice', '1.1.1.1')), {
        allowed: false,
        retryAfterSeconds: 600,
      });
      clock.advance(10 * MINUTE); // minute 15: the failure at minute 0 is 15 minutes old
      await fail(throttle, 'alice', '1.1.1.1');
      const again = await throttle.attempt(login('alice', '1.1.1.1'));
      assert.equal(again.allowed, false, 'a fixed window would have reset here; the sliding one does not');
      assert.equal(!again.allowed && again.retryAfterSeconds, 60);
    });

    test('blocked attempts do not extend the block', async (t) => {
      const clock = createManualClock();
      const throttle = await make(t, clock);
      for (let i = 0; i < 5; i += 1) await fail(throttle, 'bob', '2.2.2.2');
      for (let i = 0; i < 20; i += 1) {
        clock.advance(30_000);
        await throttle.attempt(login('bob', '2.2.2.2'));
      }
      clock.advance(5 * MINUTE);
      assert.equal((await throttle.attempt(login('bob', '2.2.2.2'))).allowed, true);
    });

    test('another address still gets its own 5 tries, up to 50 for the account', async (t) => {
      const clock = createManualClock();
      const throttle = await make(t, clock);
      for (let i = 0; i < 5; i += 1) await fail(throttle, 'carol', '3.3.3.3');
      assert.equal((await throttle.attempt(login('carol', '3.3.3.3'))).allowed, false);
      await fail(throttle, 'carol', '4.4.4.4');
      for (let i = 0; i < 44; i += 1) await fail(throttle, 'carol', `10.0.0.${i}`);
      assert.equal(
        (await throttle.attempt(login('carol', '10.0.1.1'))).allowed,
        false,
        '50 for the account from anywhere',
      );
    });

    test('100 failures from one address block it for every account', async (t) => {
      const clock = createManualClock();
      const throttle = await make(t, clock);
      for (let i = 0; i < 100; i += 1) await fail(throttle, `user${i}`, '5.5.5.5');
      assert.equal((await throttle.attempt(login('someone-new', '5.5.5.5'))).allowed, false);
      assert.equal((await throttle.attempt(login('someone-new', '6.6.6.6'))).allowed, true);
    });

    test('a success gives back its reservation and clears the account-and-address count', async (t) => {
      const clock = createManualClock();
      const throttle = await make(t, clock);
      for (let i = 0; i < 4; i += 1) await fail(throttle, 'erin', '7.7.7.7');
      const attempt = await throttle.attempt(login('erin', '7.7.7.7'));
      assert.ok(attempt.allowed);
      await attempt.succeeded();
      for (let i = 0; i < 5; i += 1) await fail(throttle, 'erin', '7.7.7.7');
      assert.equal((await throttle.attempt(login('erin', '7.7.7.7'))).allowed, false);
    });

    test('a trusted address or device is held to its own bucket only, never to the account or address counts', async (t) => {
      const clock = createManualClock();
      const throttle = await make(t, clock);
      // Strangers fill the account count (50) and one address's count (100).
      for (let i = 0; i < 50; i += 1) await fail(throttle, 'hana', `10.1.0.${i}`);
      for (let i = 0; i < 100; i += 1) await fail(throttle, `other${i}`, '10.9.9.9');
      assert.equal((await throttle.attempt(login('hana', '10.2.0.1'))).allowed, false, 'a new address waits');
      const owner = await throttle.attempt(login('hana', '10.9.9.9', 'address:10.9.9.9'));
      assert.equal(owner.allowed, true, 'the owner at a remembered address behind that busy NAT gets in');
      // The trusted bucket still stops guessing from there: 5 per window.
      for (let i = 0; i < 4; i += 1) {
        const guess = await throttle.attempt(login('hana', '10.9.9.9', 'address:10.9.9.9'));
        assert.equal(guess.allowed, true);
      }
      const sixth = await throttle.attempt(login('hana', '10.9.9.9', 'address:10.9.9.9'));
      assert.equal(sixth.allowed, false);
      const device = await throttle.attempt(login('hana', '10.9.9.9', 'device:abc'));
      assert.equal(device.allowed, true, 'a device cookie has a bucket of its own');
    });

    test('past the account limit, new addresses meet backoff that doubles, not a 15-minute wall [ASVS V6.1.1] [ASVS V6.3.1]', async (t) => {
      const clock = createManualClock();
      const throttle = await make(t, clock);
      for (let i = 0; i < 50; i += 1) await fail(throttle, 'ivan', `10.3.0.${i}`);
      const waits: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const refused = await throttle.attempt(login('ivan', `10.4.0.${i}`));
        assert.equal(refused.allowed, false);
        const seconds = refused.allowed ? 0 : refused.retryAfterSeconds;
        waits.push(seconds);
        clock.advance(seconds * 1000);
        await fail(throttle, 'ivan', `10.4.0.${i}`);
      }
      assert.deepEqual(waits, [1, 2, 4, 8, 16]);
    });

    test('password checks in one session have their own bucket of 5', async (t) => {
      const clock = createManualClock();
      const throttle = await make(t, clock);
      for (let i = 0; i < 5; i += 1) assert.equal((await throttle.attemptInSession('s1')).allowed, true);
      assert.equal((await throttle.attemptInSession('s1')).allowed, false);
      assert.equal((await throttle.attemptInSession('s2')).allowed, true);
    });

    test('parallel attempts reserve their slot before the password is checked', async (t) => {
      const clock = createManualClock();
      const throttle = await make(t, clock);
      // Ten guesses arrive together; none has finished verifying yet. Only five may proceed.
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, () => throttle.attempt(login('frank', '8.8.8.8'))),
      );
      assert.equal(outcomes.filter((o) => o.allowed).length, 5);
    });
  });
}

if (process.env.TEST_REDIS_URL) {
  test('throttle [redis]: a login name that names no user is stored only as a hash', async (t) => {
    const prefix = `inkgate-test:${randomUUID()}:`;
    const redis = await connectTestRedis(t, prefix);
    const throttle = createRedisLoginThrottle(redis, createManualClock());
    await throttle.attempt({ userId: undefined, name: 'Secret-Typo@Example.com', address: '10.5.5.5' });
    const keys = await redis.client.keys(`${prefix}*`);
    assert.equal(keys.length, 3);
    for (const key of keys) assert.doesNotMatch(key.toLowerCase(), /secret-typo/);
  });
}

test('throttle [redis, unreachable]: falls back to per-instance counts and logs one warning', async (t) => {
  const { logger, lines } = captureLogs();
  const redis = connectRedis('redis://127.0.0.1:1', 'inkgate-test:', logger);
  t.after(() => redis.close());
  const clock = createManualClock();
  const throttle = createRedisLoginThrottle(redis, clock);
  for (let i = 0; i < 5; i += 1) await fail(throttle, 'gina', '9.9.9.9');
  assert.equal(
    (await throttle.attempt(login('gina', '9.9.9.9'))).allowed,
    false,
    'still limited, per instance',
  );
  await new Promise((r) => setTimeout(r, 500)); // a few reconnect attempts
  const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0].msg, /Redis is unreachable/);
});
