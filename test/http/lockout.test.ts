import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bearer,
  buildTestApp,
  createUser,
  describeEachEngine,
  FORM,
  type TestApp,
  type TestUser,
} from '../helpers/app.ts';
import { injectBrowser, signInAtPage } from '../helpers/browser-flow.ts';

function loginFrom(
  testApp: TestApp,
  remoteAddress: string,
  username: string,
  password: string,
  headers: Record<string, string> = {},
) {
  return testApp.app.inject({
    method: 'POST',
    url: '/token',
    remoteAddress,
    headers: { ...FORM, ...headers },
    payload: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  });
}

/** POST /users/me/password with `token`, from `remoteAddress`. */
function changePassword(testApp: TestApp, token: string, current: string, remoteAddress = '127.0.0.1') {
  return testApp.app.inject({
    method: 'POST',
    url: '/users/me/password',
    remoteAddress,
    headers: bearer(token),
    payload: { current_password: current, new_password: 'a brand new passphrase 42' },
  });
}

/** Five wrong passwords for `user` from each of ten addresses: 50 failures, the account's whole count. */
async function tenAddressAttack(testApp: TestApp, user: TestUser) {
  for (let a = 1; a <= 10; a += 1) {
    const tries = Array.from({ length: 5 }, () =>
      loginFrom(testApp, `198.51.100.${a}`, user.username, 'wrong-password'),
    );
    for (const response of await Promise.all(tries)) assert.equal(response.statusCode, 400);
  }
}

describeEachEngine('No lockout of the owner', (engine) => {
  test('after the ten-address attack the owner logs in from a remembered address; a stranger’s new address gets 429 [ASVS V6.1.1] [ASVS V6.3.1] [API2:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const bob = await createUser(testApp);
    assert.equal((await loginFrom(testApp, '192.0.2.7', bob.username, bob.password)).statusCode, 200);

    await tenAddressAttack(testApp, bob);

    const stranger = await loginFrom(testApp, '203.0.113.99', bob.username, bob.password);
    assert.equal(stranger.statusCode, 429, 'a new address meets the account limit');
    assert.equal(stranger.json().error, 'slow_down');
    assert.match(String(stranger.headers['retry-after']), /^\d+$/);

    const owner = await loginFrom(testApp, '192.0.2.7', bob.username, bob.password);
    assert.equal(owner.statusCode, 200, 'the owner’s own address is never refused for strangers’ failures');
    const byEmail = await loginFrom(testApp, '192.0.2.7', bob.email, bob.password);
    assert.equal(byEmail.statusCode, 200, 'by email too');

    // The owner can still change the password with a token (counted per session, not per account).
    const token = owner.json().access_token;
    assert.equal((await changePassword(testApp, token, bob.password, '203.0.113.99')).statusCode, 204);
  });

  test('the signed device cookie lets the owner in from a new address; it is HttpOnly, Secure, SameSite=Strict, Path=/token [ASVS V6.1.1] [ASVS V6.3.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const bob = await createUser(testApp);
    const first = await loginFrom(testApp, '192.0.2.8', bob.username, bob.password);
    assert.equal(first.statusCode, 200);
    const setCookie = String(first.headers['set-cookie']);
    assert.match(
      setCookie,
      /^device=[^;]+; Max-Age=2592000; Path=\/token; HttpOnly; Secure; SameSite=Strict$/,
    );
    const device = setCookie.split(';')[0]!;

    await tenAddressAttack(testApp, bob);

    const withCookie = await loginFrom(testApp, '203.0.113.50', bob.username, bob.password, {
      cookie: device,
    });
    assert.equal(withCookie.statusCode, 200, 'a browser the owner used gets its own bucket');
    const forged = `${device.slice(0, -4)}AAAA`;
    const withForgery = await loginFrom(testApp, '203.0.113.51', bob.username, bob.password, {
      cookie: forged,
    });
    assert.equal(withForgery.statusCode, 429, 'a cookie this server did not sign counts for nothing');

    // Another user's cookie does not vouch for bob.
    const carol = await createUser(testApp);
    const carolCookie = String(
      (await loginFrom(testApp, '192.0.2.9', carol.username, carol.password)).headers['set-cookie'],
    ).split(';')[0]!;
    const wrongOwner = await loginFrom(testApp, '203.0.113.52', bob.username, bob.password, {
      cookie: carolCookie,
    });
    assert.equal(wrongOwner.statusCode, 429);
  });

  test('the login page has its own device cookie: after the attack the owner’s browser signs in there from a new address; HttpOnly, SameSite=Strict [ASVS V6.1.1] [ASVS V6.3.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const bob = await createUser(testApp);
    const home = injectBrowser(testApp, new Map(), '192.0.2.10');
    const first = await signInAtPage(home, bob);
    assert.equal(first.statusCode, 303);
    assert.equal(first.headers.location, '/account/login');
    const setCookies = ([] as string[]).concat(first.headers['set-cookie'] as string | string[]);
    assert.ok(
      setCookies.some((line) =>
        /^inkgate_device=[^;]+; Max-Age=2592000; Path=\/; HttpOnly; SameSite=Strict$/.test(line),
      ),
      setCookies.join('\n'),
    );
    const device = home.cookies.get('inkgate_device')!;

    await tenAddressAttack(testApp, bob);

    // The same browser, now on another network: its device cookie is its bucket.
    const travelling = injectBrowser(testApp, new Map([['inkgate_device', device]]), '203.0.113.60');
    const signedIn = await signInAtPage(travelling, bob);
    assert.equal(signedIn.statusCode, 303);
    assert.equal(signedIn.headers.location, '/account/login', 'signed in');
    assert.ok(travelling.cookies.has('inkgate_signin'));
    // A stranger's browser on that network, with the right password, meets the account's limit.
    const stranger = injectBrowser(testApp, new Map(), '203.0.113.61');
    const refused = await signInAtPage(stranger, bob);
    assert.match(String(refused.headers.location), /failed=throttled/);
    assert.ok(!stranger.cookies.has('inkgate_signin'));
  });

  test('a remembered address still stops guessing from there after 5 failures', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const bob = await createUser(testApp);
    assert.equal((await loginFrom(testApp, '192.0.2.10', bob.username, bob.password)).statusCode, 200);
    for (let i = 0; i < 5; i += 1) {
      assert.equal((await loginFrom(testApp, '192.0.2.10', bob.username, 'wrong-password')).statusCode, 400);
    }
    assert.equal((await loginFrom(testApp, '192.0.2.10', bob.username, bob.password)).statusCode, 429);
  });

  test('the per-address limit still stops one address spraying many accounts', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const victims = await Promise.all(Array.from({ length: 25 }, () => createUser(testApp)));
    // 4 guesses at each of 25 accounts: under every per-account limit, 100 from one address in all.
    for (const victim of victims) {
      for (let i = 0; i < 4; i += 1) {
        const response = await loginFrom(testApp, '198.51.100.200', victim.username, `guess-${i}`);
        assert.equal(response.statusCode, 400);
      }
    }
    const next = await loginFrom(testApp, '198.51.100.200', victims[0]!.username, victims[0]!.password);
    assert.equal(next.statusCode, 429);
    const elsewhere = await loginFrom(testApp, '198.51.100.201', victims[0]!.username, victims[0]!.password);
    assert.equal(elsewhere.statusCode, 200);
  });
});

test('password changes are limited per session: 5 wrong current passwords, then 429 with Retry-After [ASVS V6.2.3] [ASVS V6.3.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const bob = await createUser(testApp);
  const token = (await loginFrom(testApp, '192.0.2.11', bob.username, bob.password)).json().access_token;
  const change = (current: string) => changePassword(testApp, token, current);
  for (let i = 0; i < 5; i += 1) assert.equal((await change('wrong-password')).statusCode, 403);
  const limited = await change(bob.password);
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.match(String(limited.headers['retry-after']), /^\d+$/);
  // A new login (a new session) is not held to the old session's count.
  const other = (await loginFrom(testApp, '192.0.2.11', bob.username, bob.password)).json().access_token;
  assert.equal((await changePassword(testApp, other, bob.password)).statusCode, 204);
});

test('with TRUST_PROXY, every spelling of one address shares one count, and one IPv6 /64 is one address', async (t) => {
  const testApp = await buildTestApp(t, { env: { TRUST_PROXY: '127.0.0.1' } });
  const bob = await createUser(testApp);
  const via = (forwarded: string) =>
    loginFrom(testApp, '127.0.0.1', bob.username, 'wrong-password', { 'x-forwarded-for': forwarded });
  for (const spelling of [
    '203.0.113.5',
    '::ffff:203.0.113.5',
    '::ffff:cb00:7105',
    '0:0:0:0:0:ffff:cb00:7105',
    '203.0.113.5',
  ]) {
    assert.equal((await via(spelling)).statusCode, 400, spelling);
  }
  assert.equal((await via('0000:0000:0000:0000:0000:FFFF:CB00:7105')).statusCode, 429);

  for (let i = 1; i <= 5; i += 1) assert.equal((await via(`2001:db8:7:7::${i}`)).statusCode, 400);
  assert.equal((await via('2001:db8:7:7:ffff:ffff:ffff:ffff')).statusCode, 429, 'the same /64');
  assert.equal((await via('2001:db8:7:8::1')).statusCode, 400, 'another /64');
});
