import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHashQueue } from '../../src/accounts/hash-queue.ts';
import {
  bearer,
  buildTestApp,
  createUser,
  describeEachEngine,
  FORM,
  loginPair,
  type TestApp,
  type TestUser,
} from '../helpers/app.ts';

function loginFrom(testApp: TestApp, remoteAddress: string, user: TestUser, cookie?: string) {
  return testApp.app.inject({
    method: 'POST',
    url: '/token',
    remoteAddress,
    headers: { ...FORM, ...(cookie !== undefined && { cookie }) },
    payload: new URLSearchParams({
      grant_type: 'password',
      username: user.username,
      password: user.password,
    }).toString(),
  });
}

const deviceCookieOf = (response: { headers: Record<string, unknown> }) => {
  const header = response.headers['set-cookie'];
  const value = (Array.isArray(header) ? header : [header]).find((each) => /^device=/.test(String(each)));
  return value === undefined ? undefined : String(value).split(';')[0]!;
};

/** A place in the queue held by `owner` until the answer is called. */
function holdPlace(queue: ReturnType<typeof createHashQueue>, owner: string) {
  let release!: () => void;
  const held = queue.run(() => new Promise<void>((resolve) => (release = resolve)), [owner]);
  return async () => {
    release();
    await held;
  };
}

describeEachEngine('login floods', (engine) => {
  test('one account, one address, 250 logins in flight with its own password: the owner keeps getting in [API4:2023] [ASVS V6.3.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { HASH_SHARE: '4' } });
    const owner = await createUser(testApp);
    const attacker = await createUser(testApp);
    const home = '198.51.100.7';
    const first = await loginFrom(testApp, home, owner);
    assert.equal(first.statusCode, 200);
    const cookie = deviceCookieOf(first);
    assert.ok(cookie, 'a first login sets the device cookie');

    // The attack script keeps a cookie jar, as any HTTP client does: each device cookie it is given
    // goes back with the next requests (before the fix, each success minted a fresh throttle bucket).
    const statuses = new Map<string, number>();
    let sent = 0;
    let jar: string | undefined;
    const flood = async () => {
      while (sent < 1500) {
        sent += 1;
        const response = await loginFrom(testApp, '203.0.113.66', attacker, jar);
        jar = deviceCookieOf(response) ?? jar;
        const key = `${response.statusCode} ${response.json().error ?? ''}`.trim();
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
    };
    const attack = Promise.all(Array.from({ length: 250 }, flood));
    const ownerAnswers: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      const response = await loginFrom(testApp, home, owner, cookie);
      ownerAnswers.push(response.statusCode);
      assert.equal(deviceCookieOf(response), undefined, 'a good device cookie is kept, not replaced');
    }
    await attack;
    assert.deepEqual(ownerAnswers, Array(10).fill(200), 'the owner got in every time during the flood');
    assert.equal((await loginFrom(testApp, home, owner, cookie)).statusCode, 200, 'and after it');

    const successes = statuses.get('200') ?? 0;
    assert.ok(successes <= 60, `RATE_LIMIT_LOGINS holds: ${successes} logins`);
    assert.equal(statuses.get('503') ?? 0, 0, 'one address never fills the queue');
    assert.equal(successes + (statuses.get('429 slow_down') ?? 0), 1500, JSON.stringify([...statuses]));
    const sessions = await testApp.database.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', attacker.id)
      .execute();
    assert.equal(sessions.length, successes, 'no session beyond the limit');
  });

  test('HASH_SHARE: an address or account holding its share gets 429 slow_down at once, which is no failed login; a full queue’s 503 neither', async (t) => {
    const queue = createHashQueue({ concurrency: 1, maxWaiting: 1, share: 1 });
    const testApp = await buildTestApp(t, { engine, hashQueue: queue });
    const user = await createUser(testApp);
    const { access_token: token } = await loginPair(testApp, user);

    let release = holdPlace(queue, `account:${user.id}`);
    for (let i = 0; i < 6; i += 1) {
      const refused = await loginFrom(testApp, '192.0.2.10', user);
      assert.equal(refused.statusCode, 429);
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(refused.json().error, 'slow_down');
    }
    const change = await testApp.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: bearer(token),
      payload: { current_password: user.password, new_password: 'another good passphrase' },
    });
    assert.equal(change.statusCode, 429);
    assert.equal(change.json().code, 'slow_down');
    const email = await testApp.app.inject({
      method: 'PATCH',
      url: '/users/me',
      headers: bearer(token),
      payload: { email: 'moved@example.com', current_password: user.password },
    });
    assert.equal(email.statusCode, 429);
    await release();
    // Six refusals from one address, past the 5 failures it may have: none was counted.
    assert.equal((await loginFrom(testApp, '192.0.2.10', user)).statusCode, 200);

    // A full queue (one running, one waiting, for other owners) is 503, also never a failure.
    release = holdPlace(queue, 'address:198.51.100.1');
    const waiting = holdPlace(queue, 'address:198.51.100.2');
    for (let i = 0; i < 6; i += 1) {
      const full = await loginFrom(testApp, '192.0.2.11', user);
      assert.equal(full.statusCode, 503);
      assert.ok(full.headers['retry-after']);
    }
    await release();
    await waiting();
    assert.equal((await loginFrom(testApp, '192.0.2.11', user)).statusCode, 200);
    // The current-password checks' own budget (5 per session) was not spent by the refusals either.
    for (let i = 0; i < 4; i += 1) {
      const wrong = await testApp.app.inject({
        method: 'POST',
        url: '/users/me/password',
        headers: bearer(token),
        payload: { current_password: 'not the password', new_password: 'another good passphrase' },
      });
      assert.equal(wrong.statusCode, 403);
    }
    const right = await testApp.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: bearer(token),
      payload: { current_password: user.password, new_password: 'another good passphrase' },
    });
    assert.equal(right.statusCode, 204);
  });

  test('device cookies die with logout everywhere and with a password change [ASVS V7.4.3]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const first = await loginFrom(testApp, '192.0.2.20', user);
    const cookie = deviceCookieOf(first)!;
    const kept = await loginFrom(testApp, '192.0.2.20', user, cookie);
    assert.equal(deviceCookieOf(kept), undefined, 'a live cookie is kept');

    const everywhere = await testApp.app.inject({
      method: 'DELETE',
      url: '/users/me/sessions',
      headers: bearer(kept.json().access_token),
    });
    assert.equal(everywhere.statusCode, 204);
    const afterLogout = await loginFrom(testApp, '192.0.2.20', user, cookie);
    const renewed = deviceCookieOf(afterLogout);
    assert.ok(renewed, 'the old cookie is dead: a new one is issued');
    assert.notEqual(renewed, cookie);

    const changed = await testApp.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: bearer(afterLogout.json().access_token),
      payload: { current_password: user.password, new_password: 'a password after the cookie' },
    });
    assert.equal(changed.statusCode, 204);
    const afterChange = await loginFrom(
      testApp,
      '192.0.2.20',
      { ...user, password: 'a password after the cookie' },
      renewed,
    );
    assert.equal(afterChange.statusCode, 200);
    assert.ok(deviceCookieOf(afterChange), 'the cookie died with the password');
  });

  test('RATE_LIMIT_LOGINS: successful logins per account per hour are counted; past the limit 429 slow_down until the hour is over', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { RATE_LIMIT_LOGINS: '3' } });
    const user = await createUser(testApp);
    const other = await createUser(testApp);
    for (let i = 0; i < 3; i += 1)
      assert.equal((await loginFrom(testApp, '192.0.2.30', user)).statusCode, 200);
    const refused = await loginFrom(testApp, '192.0.2.31', user);
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().error, 'slow_down');
    assert.ok(Number(refused.headers['retry-after']) > 3000, `Retry-After ${refused.headers['retry-after']}`);
    assert.equal((await loginFrom(testApp, '192.0.2.30', other)).statusCode, 200, 'per account');
    // Refusals past the limit are no failed logins: once the hour is over the next try gets in.
    for (let i = 0; i < 6; i += 1)
      assert.equal((await loginFrom(testApp, '192.0.2.30', user)).statusCode, 429);
    testApp.clock.advance(3600_000);
    assert.equal((await loginFrom(testApp, '192.0.2.30', user)).statusCode, 200);
  });
});
