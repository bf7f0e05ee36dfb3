import assert from 'node:assert/strict';
import { test } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import {
  bearer,
  buildTestApp,
  createUser,
  describeEachEngine,
  login,
  type TestApp,
  type TestUser,
  tokenFor,
} from '../helpers/app.ts';
import { authorizeUrl, hiddenFields, injectBrowser, pkce } from '../helpers/browser-flow.ts';
import { softwarePasskey } from '../helpers/webauthn.ts';

const RP = { rpId: 'inkgate.test', origin: 'http://inkgate.test' };

/** The login page's passkey button: the options it fetches (with the page's token) and its form's fields. */
async function passkeyCeremony(
  browser: ReturnType<typeof injectBrowser>,
  testApp: TestApp,
  pageUrl = '/account/login',
) {
  const page = await browser.get(pageUrl);
  assert.equal(page.statusCode, 200, page.body);
  const optionsCsrf = /data-options="\/account\/passkey\/options" data-csrf="([^"]+)"/.exec(page.body)![1]!;
  const options = await testApp.app.inject({
    method: 'POST',
    url: '/account/passkey/options',
    headers: { cookie: [...browser.cookies].map(([name, value]) => `${name}=${value}`).join('; ') },
    payload: { csrf: optionsCsrf },
  });
  assert.equal(options.statusCode, 200, options.body);
  return { page, options: options.json(), form: hiddenFields(page.body, '/account/passkey') };
}

const sessionsOf = (testApp: TestApp, user: TestUser) =>
  testApp.database.db.selectFrom('sessions').selectAll().where('user_id', '=', user.id).execute();

describeEachEngine('passkeys', (engine) => {
  test('creation options: a discoverable credential with user verification required, for the host of APP_URL; a response that does not verify is 422 and stores nothing [WebAuthn §7.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const token = await tokenFor(testApp, user);
    const options = await testApp.app.inject({
      method: 'POST',
      url: '/users/me/passkeys/options',
      headers: bearer(token),
    });
    assert.equal(options.statusCode, 200);
    const body = options.json();
    assert.equal(body.rp.id, 'inkgate.test');
    assert.equal(body.user.name, user.username);
    assert.equal(body.authenticatorSelection.userVerification, 'required');
    assert.equal(body.authenticatorSelection.residentKey, 'required');
    assert.equal(body.attestation, 'none');
    assert.deepEqual(
      body.pubKeyCredParams.map((param: { alg: number }) => param.alg),
      [-8, -7, -257],
    );
    for (const response of [{}, { id: 'x', rawId: 'x', type: 'public-key', response: {} }]) {
      const refused = await testApp.app.inject({
        method: 'POST',
        url: '/users/me/passkeys',
        headers: bearer(token),
        payload: { response },
      });
      assert.equal(refused.statusCode, 422, refused.body);
      assert.equal(refused.json().errors[0].path, '/response');
    }
    assert.equal((await testApp.database.db.selectFrom('passkeys').selectAll().execute()).length, 0);
  });

  test('a passkey is a second factor everywhere: listed, renamed; removing it needs step-up; the password grant refuses the account', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const token = await tokenFor(testApp, user);
    await softwarePasskey({ ...RP, userId: user.id }).store(testApp);
    const list = await testApp.app.inject({
      method: 'GET',
      url: '/users/me/passkeys',
      headers: bearer(token),
    });
    assert.equal(list.statusCode, 200);
    const [passkey] = list.json().data;
    assert.equal(passkey.name, 'Test key');
    assert.equal(passkey.backed_up, false);
    const renamed = await testApp.app.inject({
      method: 'PATCH',
      url: `/users/me/passkeys/${passkey.id}`,
      headers: bearer(token),
      payload: { name: 'Work laptop' },
    });
    assert.equal(renamed.json().name, 'Work laptop');
    for (const id of [uuidv7(), 'nope']) {
      const missing = await testApp.app.inject({
        method: 'PATCH',
        url: `/users/me/passkeys/${id}`,
        headers: bearer(token),
        payload: { name: 'x' },
      });
      assert.equal(missing.statusCode, 404);
    }
    const removed = await testApp.app.inject({
      method: 'DELETE',
      url: `/users/me/passkeys/${passkey.id}`,
      headers: bearer(token),
    });
    assert.equal(removed.statusCode, 401);
    assert.equal(removed.json().code, 'insufficient_user_authentication');
    const refused = await login(testApp, user);
    assert.equal(refused.json().error, 'invalid_grant');
    assert.match(refused.json().error_description, /second factor/);
  });

  test('the login page signs in with a passkey alone only with user verification, once per challenge, with a counter that moves forward, from this origin [WebAuthn §7.2] [ASVS V6.5.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const key = softwarePasskey({ ...RP, userId: user.id });
    await key.store(testApp, 5);
    const tryWith = async (how: Parameters<typeof key.assertion>[1], challenge?: string) => {
      const browser = injectBrowser(testApp);
      const ceremony = await passkeyCeremony(browser, testApp);
      assert.equal(ceremony.options.userVerification, 'required');
      assert.equal(ceremony.options.allowCredentials, undefined, 'any discoverable passkey');
      const response = key.assertion(challenge ?? ceremony.options.challenge, how);
      const posted = await browser.post('/account/passkey', {
        ...ceremony.form,
        response: JSON.stringify(response),
      });
      assert.equal(posted.statusCode, 303);
      return { posted, browser, challenge: ceremony.options.challenge as string };
    };
    const refusedWith = async (how: Parameters<typeof key.assertion>[1], challenge?: string) => {
      const { posted, browser } = await tryWith(how, challenge);
      assert.match(String(posted.headers.location), /failed=passkey/);
      assert.ok(!browser.cookies.has('inkgate_signin'));
    };
    await refusedWith({ counter: 6, userVerified: false });
    await refusedWith({ counter: 6, origin: 'http://evil.test' });
    await refusedWith({ counter: 6, rpId: 'evil.test' });
    await refusedWith({ counter: 5 }, undefined);
    const good = await tryWith({ counter: 6 });
    assert.equal(good.posted.headers.location, '/account/login');
    assert.ok(good.browser.cookies.has('inkgate_signin'));
    const [browserSession] = (await sessionsOf(testApp, user)).filter((row) => row.kind === 'browser');
    assert.equal(browserSession!.amr, 'hwk user');
    // The same response again: its challenge is spent.
    await refusedWith({ counter: 7 }, good.challenge);
    const failures = await testApp.database.db
      .selectFrom('audit_events')
      .select('details')
      .where('type', '=', 'mfa_failed')
      .execute();
    assert.ok(failures.length >= 1);
  });

  test('after a right password, a passkey of that account is the second step (amr pwd hwk user mfa); another account’s is refused', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const other = await createUser(testApp);
    const key = softwarePasskey({ ...RP, userId: user.id });
    const otherKey = softwarePasskey({ ...RP, userId: other.id });
    await key.store(testApp);
    await otherKey.store(testApp);
    const secondStep = async (which: typeof key) => {
      const browser = injectBrowser(testApp);
      const { verifier, challenge } = pkce();
      const loginPage = await browser.get(authorizeUrl({ client_id: 'inkgate', code_challenge: challenge }));
      const password = await browser.post('/account/login', {
        ...hiddenFields(loginPage.body),
        username: user.username,
        password: user.password,
      });
      const ceremony = await passkeyCeremony(browser, testApp, String(password.headers.location));
      assert.deepEqual(
        ceremony.options.allowCredentials.map((credential: { id: string }) => credential.id),
        [key.credentialId],
      );
      const posted = await browser.post('/account/passkey', {
        ...ceremony.form,
        response: JSON.stringify(which.assertion(ceremony.options.challenge, { counter: 1 })),
      });
      return { posted, verifier };
    };
    assert.match(String((await secondStep(otherKey)).posted.headers.location), /failed=passkey/);
    const { posted } = await secondStep(key);
    assert.match(String(posted.headers.location), /^\/authorize\?/);
    const [browserSession] = (await sessionsOf(testApp, user)).filter((row) => row.kind === 'browser');
    assert.equal(browserSession!.amr, 'pwd hwk user mfa');
  });

  test('the passkey options need this browser’s page token: another browser’s, or none, is 403 and stores no challenge', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const browser = injectBrowser(testApp);
    const page = await browser.get('/account/login');
    const optionsCsrf = /data-csrf="([^"]+)"/.exec(page.body)![1]!;
    for (const cookie of ['', 'inkgate_browser=AAAAAAAAAAAAAAAAAAAAAA']) {
      const refused = await testApp.app.inject({
        method: 'POST',
        url: '/account/passkey/options',
        headers: { cookie },
        payload: { csrf: optionsCsrf },
      });
      assert.equal(refused.statusCode, 403);
    }
    assert.equal(
      (await testApp.database.db.selectFrom('webauthn_challenges').selectAll().execute()).length,
      0,
    );
  });
});
