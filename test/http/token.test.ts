import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { buildTestApp, createUser, describeEachEngine, FORM, login, type TestApp } from '../helpers/app.ts';

function postToken(
  testApp: TestApp,
  form: string | Record<string, string>,
  headers: Record<string, string> = FORM,
) {
  const payload = typeof form === 'string' ? form : new URLSearchParams(form).toString();
  return testApp.app.inject({ method: 'POST', url: '/token', payload, headers });
}

function assertOAuthError(
  response: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
  status: number,
  error: string,
) {
  assert.equal(response.statusCode, status);
  assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(response.headers['cache-control'], 'no-store');
  assert.equal(response.headers.pragma, 'no-cache');
  const body = response.json() as { error: string; error_description: string };
  assert.equal(body.error, error);
  assert.equal(typeof body.error_description, 'string');
  return body;
}

describeEachEngine('POST /token', (engine) => {
  test('password grant: 200 with a bearer access token shaped as API.md says, not cacheable [RFC6749 §4.3] [RFC6749 §5.1] [RFC9068 §2.1] [RFC9068 §2.2] [RFC7519]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const response = await login(testApp, user);
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.equal(response.headers.pragma, 'no-cache');
    const body = response.json();
    assert.deepEqual(Object.keys(body).sort(), [
      'access_token',
      'expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ]);
    assert.match(body.refresh_token, /^[A-Za-z0-9_-]{43}$/, '256 random bits, base64url');
    assert.equal(body.token_type, 'bearer');
    assert.equal(body.expires_in, 900);
    assert.equal(body.scope, 'profile posts:write comments:write');

    const header = decodeProtectedHeader(body.access_token);
    assert.equal(header.alg, 'HS256');
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.kid, testApp.keys.current().kid);
    const claims = decodeJwt(body.access_token);
    const now = Math.floor(testApp.clock.now().getTime() / 1000);
    assert.equal(claims.iss, 'http://inkgate.test');
    assert.equal(claims.aud, 'inkgate');
    assert.equal(claims.sub, user.id);
    assert.equal(claims.client_id, 'inkgate', 'RFC 9068 §2.2: client_id, the first-party client');
    assert.equal(claims.iat, now);
    assert.equal(claims.exp, now + 900);
    assert.equal(claims.scope, 'profile posts:write comments:write');
    assert.equal(claims.role, 'user');
    assert.equal(claims.username, user.username);
    assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
    assert.match(String(claims.sid), /^[0-9a-f-]{36}$/);
  });

  test('password grant: the email works as the username, in any case; grant_type may be left out [RFC6749 §4.3]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const byEmail = await postToken(testApp, {
      grant_type: 'password',
      username: user.email.toUpperCase(),
      password: user.password,
    });
    assert.equal(byEmail.statusCode, 200);
    const byUpperName = await postToken(testApp, {
      username: user.username.toUpperCase(),
      password: user.password,
    });
    assert.equal(
      byUpperName.statusCode,
      200,
      'no grant_type, as FastAPI OAuth2PasswordRequestForm clients send',
    );
    const withClientId = await postToken(testApp, {
      grant_type: 'password',
      username: user.username,
      password: user.password,
      client_id: 'inkgate',
    });
    assert.equal(withClientId.statusCode, 200, 'the first-party client may name itself');
  });

  test('password grant: ACCESS_TOKEN_TTL sets expires_in and exp [RFC6749 §5.1] [ASVS V10.3.5]', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { ACCESS_TOKEN_TTL: '5m' } });
    const user = await createUser(testApp);
    const body = (await login(testApp, user)).json();
    assert.equal(body.expires_in, 300);
    const claims = decodeJwt(body.access_token);
    assert.equal(claims.exp! - claims.iat!, 300);
  });

  test('scope: narrowing is granted, an empty scope means all, more than the role allows is invalid_scope [RFC6749 §5.1] [RFC6749 §5.2] [ASVS V10.3.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const admin = await createUser(testApp, { role: 'admin' });

    const narrow = await login(testApp, user, 'posts:write');
    assert.equal(narrow.json().scope, 'posts:write');
    assert.equal(decodeJwt(narrow.json().access_token).scope, 'posts:write');

    const empty = await login(testApp, user, '');
    assert.equal(
      empty.json().scope,
      'profile posts:write comments:write',
      'Swagger UI sends scope= when no box is ticked',
    );

    const adminAll = await login(testApp, admin);
    assert.equal(adminAll.json().scope, 'profile posts:write comments:write admin');
    assert.equal(decodeJwt(adminAll.json().access_token).role, 'admin');

    const tooMuch = await login(testApp, user, 'profile admin');
    assertOAuthError(tooMuch, 400, 'invalid_scope');
    const unknown = await login(testApp, user, 'profile root');
    assertOAuthError(unknown, 400, 'invalid_scope');
  });

  test('a wrong password, an unknown user and a disabled account get the same answer [RFC6749 §4.3] [ASVS V6.3.8] [API2:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const disabled = await createUser(testApp);
    await testApp.database.db
      .updateTable('users')
      .set({ disabled: true })
      .where('id', '=', disabled.id)
      .execute();

    const answers = [
      await login(testApp, { ...user, password: 'not the password' }),
      await login(testApp, { ...user, username: 'nobody_here' }),
      await login(testApp, { ...user, username: 'nobody@example.com' }),
      await login(testApp, disabled),
    ];
    const bodies = answers.map((response) => assertOAuthError(response, 400, 'invalid_grant'));
    for (const body of bodies) assert.deepEqual(body, bodies[0]);
    assert.equal(bodies[0]!.error_description, 'invalid username or password');
  });

  test('malformed requests: invalid_request or unsupported_grant_type, 400, never a 500 [RFC6749 §5.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    assertOAuthError(await postToken(testApp, ''), 400, 'invalid_request');
    assertOAuthError(await postToken(testApp, { username: user.username }), 400, 'invalid_request');
    assertOAuthError(
      await postToken(testApp, { grant_type: 'password', username: user.username }),
      400,
      'invalid_request',
    );
    assertOAuthError(
      await postToken(testApp, { grant_type: 'password', password: 'x' }),
      400,
      'invalid_request',
    );
    assertOAuthError(
      await postToken(testApp, { grant_type: 'client_credentials' }),
      400,
      'unsupported_grant_type',
    );
    assertOAuthError(
      await postToken(testApp, { grant_type: 'authorization_code', code: 'x' }),
      400,
      'invalid_request',
    );
    // RFC 6749 §3.2: parameters must not be repeated.
    assertOAuthError(
      await postToken(
        testApp,
        `grant_type=password&username=${user.username}&username=x&password=${user.password}`,
      ),
      400,
      'invalid_request',
    );
    // The token endpoint takes form bodies only (RFC 6749 §4.3.2).
    const json = await testApp.app.inject({
      method: 'POST',
      url: '/token',
      payload: { grant_type: 'password', username: user.username, password: user.password },
    });
    assertOAuthError(json, 400, 'invalid_request');
    const big = await postToken(testApp, `grant_type=password&username=a&password=${'x'.repeat(70_000)}`);
    assertOAuthError(big, 413, 'invalid_request');
  });

  test('refresh grant: anything that is not a live refresh token of ours is invalid_grant, an access token and 10,000 characters included [RFC6749 §5.2] [RFC8725 §3.12] [ASVS V9.2.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const access = (await login(testApp, user)).json().access_token as string;
    for (const refreshToken of [access, 'x'.repeat(10_000), 'garbage', '\u00e9\u00e9\u00e9']) {
      assertOAuthError(
        await postToken(testApp, { grant_type: 'refresh_token', refresh_token: refreshToken }),
        400,
        'invalid_grant',
      );
    }
  });

  test('throttling: after 5 failures for one account from one address, 429 with Retry-After, even for the right password [ASVS V6.3.1] [API2:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    for (let i = 0; i < 5; i += 1) {
      assertOAuthError(
        await login(testApp, { ...user, password: `wrong password ${i}` }),
        400,
        'invalid_grant',
      );
      testApp.clock.advance(60_000);
    }
    const blocked = await login(testApp, user);
    const body = assertOAuthError(blocked, 429, 'slow_down');
    assert.match(body.error_description, /too many/);
    // The oldest failure was 5 minutes ago: the limit holds for 10 more minutes.
    assert.equal(blocked.headers['retry-after'], String(10 * 60));

    testApp.clock.advance(10 * 60_000 - 1000);
    assert.equal((await login(testApp, user)).statusCode, 429);
    testApp.clock.advance(1000);
    assert.equal((await login(testApp, user)).statusCode, 200, 'once the oldest failure is 15 minutes old');
  });

  test('throttling: a success clears the count for that account and address', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    for (let i = 0; i < 4; i += 1) await login(testApp, { ...user, password: 'wrong password' });
    assert.equal((await login(testApp, user)).statusCode, 200);
    for (let i = 0; i < 4; i += 1) {
      assert.equal((await login(testApp, { ...user, password: 'wrong password' })).statusCode, 400);
    }
  });

  test('the token endpoint is listed in metrics as login successes and failures', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    await login(testApp, user);
    await login(testApp, { ...user, password: 'wrong password' });
    await login(testApp, { ...user, password: 'wrong password' });
    const metrics = await testApp.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /inkgate_logins_total\{result="success"\} 1/);
    assert.match(metrics.body, /inkgate_logins_total\{result="failure"\} 2/);
  });
});
