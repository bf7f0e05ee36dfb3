import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJwt } from 'jose';
import { createAuditTrail } from '../../src/audit/trail.ts';
import { scheduledJobs } from '../../src/server.ts';
import { bearer, buildTestApp, createUser, describeEachEngine, FORM, type TestApp } from '../helpers/app.ts';
import {
  authorizeUrl,
  hiddenFields,
  injectBrowser,
  pkce,
  REDIRECT,
  redeem,
  registerClient,
  signInAndApprove,
  signInAtPage,
} from '../helpers/browser-flow.ts';

describeEachEngine('authorization code flow', (engine) => {
  test('a third-party public client: login page, consent, code with state and iss, tokens of that client; a replay ends them [RFC6749 §4.1] [RFC7636 §4.6] [RFC9207 §2] [RFC6749 §4.1.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const client = await registerClient(testApp);
    const user = await createUser(testApp);
    const { verifier, challenge } = pkce();
    const browser = injectBrowser(testApp);
    const redirectUri = 'http://127.0.0.1:49152/callback';
    const url = authorizeUrl({
      client_id: client.client_id,
      redirect_uri: redirectUri,
      scope: 'profile',
      state: 'st-1',
      code_challenge: challenge,
    });
    const first = await browser.get(url);
    assert.equal(first.statusCode, 200);
    assert.match(
      first.headers['content-security-policy'] as string,
      /form-action 'self' http:\/\/127\.0\.0\.1:49152;/,
    );
    assert.match(first.headers['content-security-policy'] as string, /frame-ancestors 'none'/);
    assert.equal(first.headers['x-frame-options'], 'DENY');
    assert.equal(first.headers['cache-control'], 'no-store');
    assert.equal(first.headers['referrer-policy'], 'no-referrer');

    const back = await signInAndApprove(browser, user, url);
    assert.equal(`${back.origin}${back.pathname}`, redirectUri, 'back to the port the client listens on');
    assert.equal(back.searchParams.get('state'), 'st-1');
    assert.equal(back.searchParams.get('iss'), 'http://inkgate.test');
    const code = back.searchParams.get('code')!;
    assert.match(code, /^[A-Za-z0-9_-]{43}$/);

    const tokens = await redeem(testApp, {
      code,
      code_verifier: verifier,
      client_id: client.client_id,
      redirect_uri: redirectUri,
    });
    assert.equal(tokens.statusCode, 200, tokens.body);
    const pair = tokens.json();
    assert.equal(pair.scope, 'profile');
    const claims = decodeJwt(pair.access_token);
    assert.equal(claims.client_id, client.client_id);
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.acr, 'urn:inkgate:acr:pwd');
    assert.equal(typeof claims.auth_time, 'number');
    const me = await testApp.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: bearer(pair.access_token),
    });
    assert.equal(me.statusCode, 200);

    // The sessions: this browser's sign-in and the client's tokens.
    const list = (
      await testApp.app.inject({
        method: 'GET',
        url: '/users/me/sessions',
        headers: bearer(pair.access_token),
      })
    ).json();
    assert.deepEqual(
      list.data.map((s: { kind: string; client_id: string }) => [s.kind, s.client_id]).sort(),
      [
        ['browser', 'inkgate'],
        ['token', client.client_id],
      ],
    );

    // The code again, with the rightful parameters: someone else holds it. The session it became ends.
    const replay = await redeem(testApp, { code, code_verifier: verifier, client_id: client.client_id });
    assert.equal(replay.statusCode, 400);
    assert.equal(replay.json().error, 'invalid_grant');
    const after = await testApp.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: bearer(pair.access_token),
    });
    assert.equal(after.statusCode, 401, 'the tokens of a replayed code stop working');
    const refreshed = await redeem(testApp, {}, {});
    assert.equal(refreshed.statusCode, 400);
  });

  test('the first-party client is never asked for consent; a second authorization needs no sign-in', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const browser = injectBrowser(testApp);
    const swagger = 'http://inkgate.test/docs/static/oauth2-redirect.html';
    const one = pkce();
    const back = await signInAndApprove(
      browser,
      user,
      authorizeUrl({ client_id: 'inkgate', redirect_uri: swagger, code_challenge: one.challenge }),
    );
    assert.equal(back.searchParams.get('state'), null, 'no state sent, none answered');
    const tokens = await redeem(testApp, {
      code: back.searchParams.get('code')!,
      code_verifier: one.verifier,
      client_id: 'inkgate',
    });
    assert.equal(tokens.statusCode, 200, tokens.body);
    assert.equal(tokens.json().scope, 'profile posts:write comments:write', 'all the role allows');

    const two = pkce();
    const again = await browser.get(
      authorizeUrl({
        client_id: 'inkgate',
        redirect_uri: swagger,
        code_challenge: two.challenge,
        state: 's2',
      }),
    );
    assert.equal(again.statusCode, 303, 'signed in already: straight back with a code');
    const location = new URL(again.headers.location as string);
    assert.equal(location.searchParams.get('state'), 's2');
    assert.ok(location.searchParams.get('code'));
  });
});

test('wrong username or password on the login page: one message, the same limits as /token', async (t) => {
  const testApp = await buildTestApp(t);
  const user = await createUser(testApp);
  const browser = injectBrowser(testApp);
  const { challenge } = pkce();
  const page = await browser.get(authorizeUrl({ client_id: 'inkgate', code_challenge: challenge }));
  for (const [username, password] of [
    [user.username, 'wrong password here'],
    ['nobody-at-all', 'wrong password here'],
  ] as const) {
    const refused = await browser.post('/account/login', { ...hiddenFields(page.body), username, password });
    assert.equal(refused.statusCode, 303);
    const again = await browser.get(refused.headers.location as string);
    assert.equal(again.statusCode, 200);
    assert.match(again.body, /Wrong username or password\./);
    assert.equal(browser.cookies.has('inkgate_signin'), false);
  }
});

describeEachEngine('authorization request errors', (engine) => {
  test('an unknown client or a redirect URI it did not register is a 400 page, never a redirect [RFC6749 §4.1.2.1] [RFC9700 §2.1] [ASVS V10.4.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const client = await registerClient(testApp, {
      redirect_uris: [REDIRECT, 'https://notes.example.com/cb'],
    });
    const browser = injectBrowser(testApp);
    const { challenge } = pkce();
    for (const fields of [
      { client_id: 'no-such-client', redirect_uri: REDIRECT },
      { client_id: client.client_id, redirect_uri: 'https://evil.example.com/cb' },
      { client_id: client.client_id, redirect_uri: 'https://notes.example.com/cb/' },
      { client_id: client.client_id, redirect_uri: 'http://localhost/callback' },
      { client_id: client.client_id },
      { redirect_uri: REDIRECT },
    ]) {
      const response = await browser.get(authorizeUrl({ ...fields, code_challenge: challenge, state: 's' }));
      assert.equal(response.statusCode, 400, JSON.stringify(fields));
      assert.equal(response.headers.location, undefined);
      assert.match(response.headers['content-type'] as string, /^text\/html/);
      assert.match(response.body, /This sign-in cannot go on/);
    }
    // A parameter sent twice is no request either (a page, not JSON).
    const twice = await browser.get(
      `/authorize?client_id=${client.client_id}&client_id=other&response_type=code`,
    );
    assert.equal(twice.statusCode, 400);
    assert.match(twice.body, /malformed/);
  });

  test('other errors go back to the client with error, error_description, state and iss; PKCE S256 is required [RFC7636 §4.4.1] [RFC9700 §2.1.1] [RFC9207 §2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const client = await registerClient(testApp, { scopes: ['profile'] });
    const browser = injectBrowser(testApp);
    const { challenge } = pkce();
    const base = {
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      state: 'keep me',
      code_challenge: challenge,
    };
    for (const [fields, error] of [
      [{ code_challenge: undefined }, 'invalid_request'],
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ code_challenge_method: undefined }, 'invalid_request'],
      [{ code_challenge: 'short' }, 'invalid_request'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ response_type: undefined }, 'invalid_request'],
      [{ scope: 'profile nonsense' }, 'invalid_scope'],
      [{ scope: 'posts:write' }, 'invalid_scope'],
      [{ prompt: 'sometimes' }, 'invalid_request'],
      [{ max_age: '-1' }, 'invalid_request'],
      [{ prompt: 'none' }, 'login_required'],
    ] as const) {
      const response = await browser.get(authorizeUrl({ ...base, ...fields }));
      assert.equal(response.statusCode, 303, JSON.stringify(fields));
      const location = new URL(response.headers.location as string);
      assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
      assert.equal(location.searchParams.get('error'), error, JSON.stringify(fields));
      assert.ok(location.searchParams.get('error_description'));
      assert.equal(location.searchParams.get('state'), 'keep me');
      assert.equal(location.searchParams.get('iss'), 'http://inkgate.test');
      assert.equal(location.searchParams.get('code'), null);
    }
    const codes = await testApp.database.db.selectFrom('authorization_codes').select('code_hash').execute();
    assert.equal(codes.length, 0, 'no code for any of them');
  });

  test('deny is access_denied; prompt=none after sign-in without consent is consent_required; a stale sign-in for max_age asks again', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const client = await registerClient(testApp);
    const user = await createUser(testApp);
    const browser = injectBrowser(testApp);
    const { challenge } = pkce();
    const url = authorizeUrl({ client_id: client.client_id, code_challenge: challenge, state: 'd' });
    const loginPage = await browser.get(url);
    const signIn = await browser.post('/account/login', {
      ...hiddenFields(loginPage.body),
      username: user.username,
      password: user.password,
    });
    const consent = await browser.get(signIn.headers.location as string);
    const denied = await browser.post('/account/consent', {
      ...hiddenFields(consent.body),
      decision: 'deny',
    });
    assert.equal(denied.statusCode, 303);
    const location = new URL(denied.headers.location as string);
    assert.equal(location.searchParams.get('error'), 'access_denied');
    assert.equal(location.searchParams.get('state'), 'd');

    const silent = await browser.get(
      authorizeUrl({ client_id: client.client_id, code_challenge: challenge, prompt: 'none' }),
    );
    assert.equal(new URL(silent.headers.location as string).searchParams.get('error'), 'consent_required');

    testApp.clock.advance(120_000);
    const stale = await browser.get(
      authorizeUrl({ client_id: client.client_id, code_challenge: challenge, max_age: '60' }),
    );
    assert.equal(stale.statusCode, 200);
    assert.match(stale.body, /Sign in/, 'a sign-in older than max_age signs in again');
    const loginAgain = await browser.get(
      authorizeUrl({ client_id: client.client_id, code_challenge: challenge, prompt: 'login' }),
    );
    assert.match(loginAgain.body, /Sign in/);
  });

  test('a form not from this browser’s page is 403 and changes nothing: no cookie (cross-site), another browser’s, a changed field, a browser that says it comes from elsewhere (Origin, Sec-Fetch-Site) [ASVS V3.5.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const { challenge } = pkce();
    const url = authorizeUrl({ client_id: 'inkgate', code_challenge: challenge });
    const mine = injectBrowser(testApp);
    const page = await mine.get(url);
    const form: Record<string, string> = {
      ...hiddenFields(page.body),
      username: user.username,
      password: user.password,
    };

    const crossSite = await testApp.app.inject({
      method: 'POST',
      url: '/account/login',
      headers: FORM,
      payload: new URLSearchParams(form).toString(),
    });
    assert.equal(crossSite.statusCode, 403, 'a cross-site form carries no cookie (SameSite=Lax)');
    const other = injectBrowser(testApp);
    await other.get(url);
    assert.equal((await other.post('/account/login', form)).statusCode, 403, 'another browser’s page');
    assert.equal(
      (await mine.post('/account/login', { ...form, scope: 'admin' })).statusCode,
      403,
      'a changed field',
    );
    assert.equal((await mine.post('/account/login', { ...form, csrf: `${form.csrf}x` })).statusCode, 403);
    // The right cookies and token, but the browser says the form was on another page.
    for (const headers of [
      { origin: 'https://evil.example' } as Record<string, string>,
      { origin: 'null', 'sec-fetch-site': 'cross-site' },
      { origin: 'http://inkgate.test', 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site' },
    ]) {
      assert.equal(
        (await mine.post('/account/login', form, headers)).statusCode,
        403,
        JSON.stringify(headers),
      );
    }
    const sessions = await testApp.database.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user.id)
      .execute();
    assert.equal(sessions.length, 0, 'nobody signed in');
    // What Chromium sends from the page itself: no-referrer makes its Origin null.
    const own = { origin: 'null', 'sec-fetch-site': 'same-origin' };
    assert.equal((await mine.post('/account/login', form, own)).statusCode, 303, 'the page’s own form does');
  });

  test('signing out ends this browser’s sign-in; the sign-in is a session the user can list and end [ASVS V7.4.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const browser = injectBrowser(testApp);
    const signIn = await signInAtPage(browser, user);
    assert.equal(signIn.headers.location, '/account/login');
    const cookie = [...browser.cookies].find(([name]) => name === 'inkgate_signin');
    assert.ok(cookie, 'the sign-in cookie');
    const signedIn = await browser.get('/account/login');
    assert.match(signedIn.body, new RegExp(`signed in as <strong>${user.username}</strong>`));
    const out = await browser.post('/account/logout', hiddenFields(signedIn.body));
    assert.equal(out.statusCode, 303);
    const row = await testApp.database.db
      .selectFrom('sessions')
      .select(['kind', 'revoked_reason'])
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual({ ...row }, { kind: 'browser', revoked_reason: 'logged_out' });
    const { challenge } = pkce();
    const next = await browser.get(
      authorizeUrl({ client_id: 'inkgate', code_challenge: challenge, prompt: 'none' }),
    );
    assert.equal(new URL(next.headers.location as string).searchParams.get('error'), 'login_required');
  });
});

describeEachEngine('authorization_code grant', (engine) => {
  /** A code for `client`, ready to redeem. */
  async function codeFor(testApp: TestApp, client: { client_id: string }, redirectUri = REDIRECT) {
    const user = await createUser(testApp);
    const browser = injectBrowser(testApp);
    const { verifier, challenge } = pkce();
    const back = await signInAndApprove(
      browser,
      user,
      authorizeUrl({ client_id: client.client_id, redirect_uri: redirectUri, code_challenge: challenge }),
    );
    return { code: back.searchParams.get('code')!, verifier, user };
  }

  test('a wrong verifier, another client, a different redirect_uri are invalid_grant and leave the code good; past 60 s it is spent for good [RFC7636 §4.6] [RFC6749 §4.1.3] [RFC9700 §4.2.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const client = await registerClient(testApp);
    const other = await registerClient(testApp);
    const { code, verifier } = await codeFor(testApp, client);
    const cases: Array<Record<string, string>> = [
      { code, code_verifier: pkce().verifier, client_id: client.client_id },
      { code, code_verifier: verifier, client_id: other.client_id },
      { code, code_verifier: verifier, client_id: client.client_id, redirect_uri: 'http://127.0.0.1/other' },
      { code, code_verifier: 'short', client_id: client.client_id },
      {
        code: `${code.slice(0, -1)}${code.endsWith('A') ? 'B' : 'A'}`,
        code_verifier: verifier,
        client_id: client.client_id,
      },
    ];
    for (const fields of cases) {
      const refused = await redeem(testApp, fields);
      assert.equal(refused.statusCode, 400, JSON.stringify(fields));
      assert.equal(refused.json().error, 'invalid_grant');
    }
    const missing = await redeem(testApp, { code, client_id: client.client_id });
    assert.equal(missing.json().error, 'invalid_request');
    const good = await redeem(testApp, { code, code_verifier: verifier, client_id: client.client_id });
    assert.equal(good.statusCode, 200, 'the rightful holder still redeems it');

    const late = await codeFor(testApp, client);
    testApp.clock.advance(60_001);
    const expired = await redeem(testApp, {
      code: late.code,
      code_verifier: late.verifier,
      client_id: client.client_id,
    });
    assert.equal(expired.json().error, 'invalid_grant');
  });

  test('two redemptions of one code at once: exactly one gets tokens [RFC6749 §4.1.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const client = await registerClient(testApp);
    const { code, verifier } = await codeFor(testApp, client);
    const answers = await Promise.all(
      Array.from({ length: 4 }, () =>
        redeem(testApp, { code, code_verifier: verifier, client_id: client.client_id }),
      ),
    );
    assert.deepEqual(answers.map((a) => a.statusCode).sort(), [200, 400, 400, 400]);
  });

  test('a confidential client authenticates with Basic or client_secret_post; without it, 401 invalid_client [RFC6749 §2.3.1] [RFC6749 §5.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const client = await registerClient(testApp, {
      type: 'confidential',
      redirect_uris: ['https://notes.example.com/cb'],
    });
    const secret = client.client_secret!;
    const basic = (id: string, pw: string) => ({
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(pw)}`).toString('base64')}`,
    });
    const first = await codeFor(testApp, client, 'https://notes.example.com/cb');
    const noSecret = await redeem(testApp, {
      code: first.code,
      code_verifier: first.verifier,
      client_id: client.client_id,
    });
    assert.equal(noSecret.statusCode, 401);
    assert.equal(noSecret.json().error, 'invalid_client');
    assert.equal(noSecret.headers['www-authenticate'], undefined, 'no Basic was tried');
    const wrong = await redeem(
      testApp,
      { code: first.code, code_verifier: first.verifier },
      basic(client.client_id, `${secret}x`),
    );
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.headers['www-authenticate'], 'Basic realm="inkgate"');
    const byBasic = await redeem(
      testApp,
      { code: first.code, code_verifier: first.verifier },
      basic(client.client_id, secret),
    );
    assert.equal(byBasic.statusCode, 200, byBasic.body);

    const second = await codeFor(testApp, client, 'https://notes.example.com/cb');
    const byPost = await redeem(testApp, {
      code: second.code,
      code_verifier: second.verifier,
      client_id: client.client_id,
      client_secret: secret,
    });
    assert.equal(byPost.statusCode, 200, byPost.body);

    // Its refresh tokens need its authentication too; another client's refresh is invalid_grant.
    const refresh = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      testApp.app.inject({
        method: 'POST',
        url: '/token',
        headers: { ...FORM, ...headers },
        payload: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: byPost.json().refresh_token,
          ...fields,
        }).toString(),
      });
    assert.equal((await refresh({ client_id: client.client_id })).statusCode, 401);
    assert.equal((await refresh({})).json().error, 'invalid_grant', 'as the first-party client');
    const renewed = await refresh({}, basic(client.client_id, secret));
    assert.equal(renewed.statusCode, 200, renewed.body);
    assert.equal(decodeJwt(renewed.json().access_token).client_id, client.client_id);
  });

  test('the password grant is the first-party client’s only: unauthorized_client for another, invalid_client for an unknown one [RFC9700 §2.4]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const client = await registerClient(testApp);
    const user = await createUser(testApp);
    const grant = (clientId?: string) =>
      testApp.app.inject({
        method: 'POST',
        url: '/token',
        headers: FORM,
        payload: new URLSearchParams({
          grant_type: 'password',
          username: user.username,
          password: user.password,
          ...(clientId !== undefined && { client_id: clientId }),
        }).toString(),
      });
    assert.equal((await grant()).statusCode, 200);
    assert.equal((await grant('inkgate')).statusCode, 200);
    const third = await grant(client.client_id);
    assert.equal(third.statusCode, 400);
    assert.equal(third.json().error, 'unauthorized_client');
    const unknown = await grant('swagger');
    assert.equal(unknown.statusCode, 401);
    assert.equal(unknown.json().error, 'invalid_client');
  });

  test('revocation by a client touches only its own tokens [RFC7009 §2.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const client = await registerClient(testApp);
    const { code, verifier } = await codeFor(testApp, client);
    const pair = (
      await redeem(testApp, { code, code_verifier: verifier, client_id: client.client_id })
    ).json();
    const revoke = (fields: Record<string, string>) =>
      testApp.app.inject({
        method: 'POST',
        url: '/token/revoke',
        headers: FORM,
        payload: new URLSearchParams(fields).toString(),
      });
    const me = () =>
      testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(pair.access_token) });
    assert.equal(
      (await revoke({ token: pair.refresh_token })).statusCode,
      200,
      'as the first-party client: 200',
    );
    assert.equal((await me()).statusCode, 200, 'and nothing happened');
    assert.equal((await revoke({ token: pair.refresh_token, client_id: client.client_id })).statusCode, 200);
    assert.equal((await me()).statusCode, 401, 'its own client ended it');
  });
});

test('the hourly purge deletes codes a day past their end and keeps newer ones (a replay within the day still ends what a code issued)', async (t) => {
  const testApp = await buildTestApp(t);
  const user = await createUser(testApp);
  const browser = injectBrowser(testApp);
  const code = async () =>
    (
      await signInAndApprove(
        browser,
        user,
        authorizeUrl({ client_id: 'inkgate', code_challenge: pkce().challenge }),
      )
    ).searchParams.get('code');
  assert.ok(await code());
  testApp.clock.advance(25 * 3600 * 1000);
  const fresh = injectBrowser(testApp);
  await signInAtPage(fresh, user);
  const again = await fresh.get(authorizeUrl({ client_id: 'inkgate', code_challenge: pkce().challenge }));
  assert.equal(again.statusCode, 303);
  const [purge] = scheduledJobs(
    testApp.config,
    testApp.database,
    createAuditTrail({ db: testApp.database.db, clock: testApp.clock }),
  );
  const done = await purge!.run(testApp.clock.now());
  assert.equal(done.authorizationCodes, 1);
  const left = await testApp.database.db.selectFrom('authorization_codes').select('code_hash').execute();
  assert.equal(left.length, 1, 'the newer code stays');
});

describeEachEngine('connected apps', (engine) => {
  test('GET /users/me/authorizations lists the apps consented to; DELETE withdraws one and ends its sessions at once, others stay [ASVS V7.4.1] [ASVS V10.7.3]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const client = await registerClient(testApp, { name: 'Notes CLI' });
    const user = await createUser(testApp);
    const browser = injectBrowser(testApp);
    const { verifier, challenge } = pkce();
    const back = await signInAndApprove(
      browser,
      user,
      authorizeUrl({ client_id: client.client_id, scope: 'profile', code_challenge: challenge }),
    );
    const pair = (
      await redeem(testApp, {
        code: back.searchParams.get('code')!,
        code_verifier: verifier,
        client_id: client.client_id,
      })
    ).json();
    const own = (
      await testApp.app.inject({
        method: 'POST',
        url: '/token',
        headers: FORM,
        payload: new URLSearchParams({ username: user.username, password: user.password }).toString(),
      })
    ).json().access_token as string;

    const list = await testApp.app.inject({
      method: 'GET',
      url: '/users/me/authorizations',
      headers: bearer(own),
    });
    assert.equal(list.statusCode, 200);
    const [app] = list.json().data;
    assert.equal(list.json().data.length, 1);
    assert.equal(app.client_id, client.client_id);
    assert.equal(app.client_name, 'Notes CLI');
    assert.deepEqual(app.scopes, ['profile']);
    const sessions = (
      await testApp.app.inject({ method: 'GET', url: '/users/me/sessions', headers: bearer(own) })
    ).json();
    assert.ok(
      sessions.data.some(
        (s: { client_id: string; client_name: string }) =>
          s.client_id === client.client_id && s.client_name === 'Notes CLI',
      ),
    );

    const me = (token: string) =>
      testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
    assert.equal((await me(pair.access_token)).statusCode, 200);
    const withdrawn = await testApp.app.inject({
      method: 'DELETE',
      url: `/users/me/authorizations/${client.client_id}`,
      headers: bearer(own),
    });
    assert.equal(withdrawn.statusCode, 204);
    assert.equal((await me(pair.access_token)).statusCode, 401, 'the app’s session ended at once');
    assert.equal((await me(own)).statusCode, 200, 'the user’s own stays');
    assert.deepEqual(
      (
        await testApp.app.inject({ method: 'GET', url: '/users/me/authorizations', headers: bearer(own) })
      ).json(),
      { data: [] },
    );
    const events = await testApp.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('type', '=', 'authorization_revoked')
      .execute();
    assert.equal(events.length, 1);
    assert.deepEqual(JSON.parse(events[0]!.details as unknown as string), {
      client_id: client.client_id,
      sessions: 1,
    });

    // The app must ask again: the consent page comes back.
    const again = await browser.get(
      authorizeUrl({ client_id: client.client_id, code_challenge: pkce().challenge }),
    );
    assert.match(again.body, /Allow access\?/);
    // Nothing to withdraw any more: 404, and no event.
    const none = await testApp.app.inject({
      method: 'DELETE',
      url: `/users/me/authorizations/${client.client_id}`,
      headers: bearer(own),
    });
    assert.equal(none.statusCode, 404);
    assert.equal(none.json().code, 'authorization_not_found');
    const after = await testApp.database.db
      .selectFrom('audit_events')
      .select('id')
      .where('type', '=', 'authorization_revoked')
      .execute();
    assert.equal(after.length, 1);
  });
});

test('PASSWORD_GRANT=off: the password grant is gone from /token, the metadata and the OpenAPI document; the code flow stays [RFC9700 §2.4] [ASVS V10.4.4]', async (t) => {
  const testApp = await buildTestApp(t, { env: { PASSWORD_GRANT: 'off' } });
  const user = await createUser(testApp);
  const forms: Array<Record<string, string>> = [
    { grant_type: 'password', username: user.username, password: user.password },
    { username: user.username, password: user.password },
  ];
  for (const form of forms) {
    const refused = await testApp.app.inject({
      method: 'POST',
      url: '/token',
      headers: FORM,
      payload: new URLSearchParams(form).toString(),
    });
    assert.equal(refused.statusCode, 400);
    assert.match(refused.json().error, /^(unsupported_grant_type|invalid_request)$/);
  }
  const metadata = (
    await testApp.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  ).json();
  assert.deepEqual(metadata.grant_types_supported, ['authorization_code', 'refresh_token']);
  const document = (await testApp.app.inject({ method: 'GET', url: '/openapi.json' })).json();
  assert.deepEqual(Object.keys(document.components.securitySchemes.OAuth2PasswordBearer.flows), [
    'authorizationCode',
  ]);
  // The code flow signs in on the page instead.
  const browser = injectBrowser(testApp);
  const { verifier, challenge } = pkce();
  const back = await signInAndApprove(
    browser,
    user,
    authorizeUrl({ client_id: 'inkgate', code_challenge: challenge }),
  );
  const tokens = await redeem(testApp, {
    code: back.searchParams.get('code')!,
    code_verifier: verifier,
    client_id: 'inkgate',
  });
  assert.equal(tokens.statusCode, 200);
});

test('the login page counts failed logins with /token: one count, whichever door [ASVS V6.3.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const user = await createUser(testApp);
  const browser = injectBrowser(testApp);
  const page = await browser.get('/account/login');
  for (let i = 0; i < 5; i += 1) {
    const refused = await browser.post('/account/login', {
      ...hiddenFields(page.body),
      username: user.username,
      password: `wrong password ${i}`,
    });
    assert.match(refused.headers.location as string, /failed=credentials/);
  }
  // The sixth try, at the other door and with the right password: throttled all the same.
  const token = await testApp.app.inject({
    method: 'POST',
    url: '/token',
    headers: FORM,
    payload: new URLSearchParams({ username: user.username, password: user.password }).toString(),
  });
  assert.equal(token.statusCode, 429);
  assert.equal(token.json().error, 'slow_down');
  const atPage = await browser.post('/account/login', {
    ...hiddenFields(page.body),
    username: user.username,
    password: user.password,
  });
  assert.match(atPage.headers.location as string, /failed=throttled&retry_after=\d+/);
  const shown = await browser.get(atPage.headers.location as string);
  assert.match(shown.body, /Too many attempts: try again in \d+ seconds\./);
  assert.equal(browser.cookies.has('inkgate_signin'), false);
});

test('/metrics counts authorizations by outcome: the login page, the consent page, codes, errors, refusals', async (t) => {
  const testApp = await buildTestApp(t);
  const client = await registerClient(testApp);
  const user = await createUser(testApp);
  const browser = injectBrowser(testApp);
  const { challenge } = pkce();
  await signInAndApprove(
    browser,
    user,
    authorizeUrl({ client_id: client.client_id, code_challenge: challenge }),
  );
  await browser.get(authorizeUrl({ client_id: client.client_id }));
  await browser.get(authorizeUrl({ client_id: 'nobody', code_challenge: challenge }));
  const text = (await testApp.app.inject({ method: 'GET', url: '/metrics' })).body;
  const count = (outcome: string) =>
    Number(
      new RegExp(`^inkgate_authorizations_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0,
    );
  assert.equal(count('login'), 1, 'the login page');
  assert.equal(count('consent'), 1, 'the consent page');
  assert.equal(count('code'), 1, 'the approval’s code');
  assert.equal(count('invalid_request'), 1, 'no PKCE');
  assert.equal(count('refused'), 1, 'an unknown client');
});

test('with an https ISSUER the pages’ cookies are __Host- and Secure, HttpOnly, SameSite=Lax, Path=/ [ASVS V3.3.1] [ASVS V3.3.4]', async (t) => {
  const testApp = await buildTestApp(t, { env: { ISSUER: 'https://blog.example.com' } });
  const user = await createUser(testApp);
  const browser = injectBrowser(testApp);
  // The page's answer sets the browser cookie, the form's the sign-in cookie.
  const page = await browser.get('/account/login');
  const signIn = await browser.post('/account/login', {
    ...hiddenFields(page.body),
    username: user.username,
    password: user.password,
  });
  assert.equal(signIn.statusCode, 303);
  const set = [page, signIn].flatMap((response) => [response.headers['set-cookie'] ?? []].flat());
  const browserCookie = set.find((line) => line.startsWith('__Host-inkgate_browser='));
  const signinCookie = set.find((line) => line.startsWith('__Host-inkgate_signin='));
  for (const line of [browserCookie, signinCookie]) {
    assert.ok(line, set.join('\n'));
    assert.match(line, /; Path=\//);
    assert.match(line, /; HttpOnly/);
    assert.match(line, /; Secure/);
    assert.match(line, /; SameSite=Lax/);
    assert.doesNotMatch(line, /; Domain=/i, '__Host- cookies name no domain');
  }
  assert.match(signinCookie!, /; Max-Age=43200/, 'LOGIN_SESSION_TTL, 12 hours');
});
