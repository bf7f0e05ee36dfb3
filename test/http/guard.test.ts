import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  base64url,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  type JWTHeaderParameters,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { bearer, buildTestApp, signedIn, type TestApp } from '../helpers/app.ts';

/** Signs claims with the server's own key, so only the property under test is wrong. */
async function forge(
  testApp: TestApp,
  overrides: {
    header?: Partial<JWTHeaderParameters>;
    claims?: JWTPayload;
    omit?: string[];
    key?: Parameters<SignJWT['sign']>[0];
  } = {},
) {
  const now = Math.floor(testApp.clock.now().getTime() / 1000);
  const claims: JWTPayload = {
    iss: 'http://inkgate.test',
    aud: 'inkgate',
    sub: '01a204c7-66c1-742b-a8b0-af08bd300cf0',
    jti: 'f0c1c1a2-5b87-4a4f-8f9e-5b0f8f0e0001',
    iat: now,
    exp: now + 900,
    scope: 'profile posts:write',
    role: 'user',
    username: 'mallory',
    ...overrides.claims,
  };
  for (const name of overrides.omit ?? []) delete claims[name];
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', kid: testApp.keys.current().kid, typ: 'at+jwt', ...overrides.header })
    .sign(overrides.key ?? testApp.keys.current().signingKey);
}

async function assertInvalidToken(testApp: TestApp, token: string, why: string) {
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/posts',
    headers: bearer(token),
    payload: { title: 't', content: 'c' },
  });
  assert.equal(response.statusCode, 401, why);
  assert.match(
    String(response.headers['www-authenticate']),
    /^Bearer realm="inkgate", error="invalid_token", error_description="[^"\\]+"$/,
    why,
  );
  assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(response.json().status, 401);
  return response;
}

test('guard: a genuine token passes, and so does one forged with our key (the forge helper is sound) [RFC6750 §2.1] [ASVS V7.2.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const { user, token } = await signedIn(testApp);
  const ok = await testApp.app.inject({
    method: 'POST',
    url: '/posts',
    headers: bearer(token),
    payload: { title: 't', content: 'c' },
  });
  assert.equal(ok.statusCode, 201);
  const forged = await forge(testApp, { claims: decodeJwt(token) });
  const me = await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(forged) });
  assert.equal(me.statusCode, 200);
  assert.equal(me.json().id, user.id);
});

test('guard: the scheme name is case-insensitive [RFC6750 §2.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
    const response = await testApp.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: { authorization: `${scheme} ${token}` },
    });
    assert.equal(response.statusCode, 200, scheme);
  }
});

test('guard: a token anywhere but the Authorization header is not taken: not in the query, not in a form body [RFC6750 §2.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const inQuery = await testApp.app.inject({ method: 'GET', url: `/users/me?access_token=${token}` });
  assert.equal(inQuery.statusCode, 401);
  assert.equal(inQuery.headers['www-authenticate'], 'Bearer realm="inkgate"', 'as if no token was sent');
  const inForm = await testApp.app.inject({
    method: 'POST',
    url: '/posts',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `access_token=${token}&title=t&content=c`,
  });
  assert.equal(inForm.statusCode, 401);
  assert.equal(inForm.headers['www-authenticate'], 'Bearer realm="inkgate"');
  assert.equal(
    (await testApp.app.inject({ method: 'GET', url: '/posts' })).json().data.length,
    0,
    'nothing stored',
  );
});

test('guard: no token, or another scheme, is 401 with exactly Bearer realm="inkgate" (RFC 6750 §3.1) [RFC6750 §3] [RFC6750 §3.1]', async (t) => {
  const testApp = await buildTestApp(t);
  for (const authorization of [undefined, '', 'Basic YWRhOnB3', 'Token abc', 'Digest username="x"']) {
    const headers = authorization === undefined ? {} : { authorization };
    const response = await testApp.app.inject({ method: 'GET', url: '/users/me', headers });
    assert.equal(response.statusCode, 401, String(authorization));
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="inkgate"');
    assert.equal(response.json().title, 'Unauthorized');
  }
});

test('guard: authentication comes before the body: no or a bad token is 401 whatever the body [ASVS V8.3.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const created = await testApp.app.inject({
    method: 'POST',
    url: '/posts',
    headers: bearer(token),
    payload: { title: 't', content: 'c' },
  });
  const id = created.json().id as string;
  const cases: Array<{ headers: Record<string, string>; payload: string | Buffer }> = [
    { headers: { 'content-type': 'application/json' }, payload: '{}' },
    { headers: { 'content-type': 'application/json' }, payload: '{"title": ' },
    { headers: { 'content-type': 'text/plain' }, payload: 'hello' },
    { headers: { 'content-type': 'application/json' }, payload: Buffer.alloc(70_000, 0x20) },
  ];
  for (const auth of [{}, bearer('not.a.token')]) {
    for (const { headers, payload } of cases) {
      const response = await testApp.app.inject({
        method: 'PUT',
        url: `/posts/${id}`,
        headers: { ...headers, ...auth },
        payload,
      });
      assert.equal(response.statusCode, 401, `${JSON.stringify(auth)} ${headers['content-type']}`);
      assert.match(String(response.headers['www-authenticate']), /^Bearer realm="inkgate"/);
    }
  }
  // With a good token the body is looked at: 422 for {}.
  const invalid = await testApp.app.inject({
    method: 'PUT',
    url: `/posts/${id}`,
    headers: bearer(token),
    payload: {},
  });
  assert.equal(invalid.statusCode, 422);
});

test('guard: alg none is refused [RFC8725 §3.1] [ASVS V9.1.2] [API2:2023]', async (t) => {
  const testApp = await buildTestApp(t);
  const valid = await forge(testApp);
  const [, payload] = valid.split('.');
  const header = base64url.encode(
    JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: testApp.keys.current().kid }),
  );
  await assertInvalidToken(testApp, `${header}.${payload}.`, 'alg none');
  const headerNone = base64url.encode(JSON.stringify({ alg: 'None', typ: 'at+jwt' }));
  await assertInvalidToken(testApp, `${headerNone}.${payload}.`, 'alg None');
});

test('guard: a tampered payload or signature is refused [RFC8725 §3.3] [ASVS V9.1.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const elevated = base64url.encode(
    JSON.stringify({ ...claims, role: 'admin', scope: 'profile posts:write admin' }),
  );
  await assertInvalidToken(testApp, `${header}.${elevated}.${signature}`, 'elevated claims');
  const flipped = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA');
  await assertInvalidToken(testApp, `${header}.${payload}.${flipped}`, 'flipped signature');
  await assertInvalidToken(testApp, `${header}.${payload}`, 'two parts');
  await assertInvalidToken(testApp, 'not-a-jwt', 'garbage');
});

test('guard: a token signed with another secret is refused, even with our kid [RFC8725 §3.3] [ASVS V9.1.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const other = new TextEncoder().encode('another-secret-that-is-at-least-32-bytes');
  await assertInvalidToken(testApp, await forge(testApp, { key: other }), 'foreign key');
});

test('guard: another HMAC algorithm with our own secret is refused (the algorithm comes from configuration) [RFC8725 §3.1] [ASVS V9.1.2]', async (t) => {
  const testApp = await buildTestApp(t);
  // The raw secret, as the database keeps it (the app itself holds it only as an HS256-bound key).
  const stored = await testApp.database.db
    .selectFrom('signing_keys')
    .select('private_jwk')
    .executeTakeFirstOrThrow();
  const secret = base64url.decode((JSON.parse(stored.private_jwk) as { k: string }).k);
  const { token } = await signedIn(testApp);
  const claims = decodeJwt(token);
  const genuine = await forge(testApp, { key: secret, claims });
  assert.equal(
    (await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(genuine) })).statusCode,
    200,
  );
  await assertInvalidToken(
    testApp,
    await forge(testApp, { header: { alg: 'HS512' }, key: secret, claims }),
    'HS512',
  );
});

test('guard: expiry allows 30 s of clock skew and no more [RFC7519] [RFC9068 §4] [ASVS V9.2.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  testApp.clock.advance((900 + 29) * 1000);
  const stillOk = await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
  assert.equal(stillOk.statusCode, 200);
  testApp.clock.advance(2000);
  const response = await assertInvalidToken(testApp, token, 'expired');
  assert.match(String(response.headers['www-authenticate']), /error_description="the token has expired"/);
});

test('guard: iat or nbf more than 30 s in the future is refused [RFC7519] [ASVS V9.2.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const now = Math.floor(testApp.clock.now().getTime() / 1000);
  await assertInvalidToken(
    testApp,
    await forge(testApp, { claims: { iat: now + 60, exp: now + 960 } }),
    'future iat',
  );
  await assertInvalidToken(testApp, await forge(testApp, { claims: { nbf: now + 60 } }), 'future nbf');
  const { token } = await signedIn(testApp);
  const skewed = await testApp.app.inject({
    method: 'GET',
    url: '/users/me',
    headers: bearer(await forge(testApp, { claims: { ...decodeJwt(token), iat: now + 20 } })),
  });
  assert.equal(skewed.statusCode, 200, 'within the skew');
});

test('guard: a wrong issuer or audience is refused [RFC7519] [RFC8725 §3.8] [RFC8725 §3.9] [RFC9068 §4] [ASVS V9.2.3] [ASVS V9.2.4] [ASVS V10.3.1] [ASVS V10.3.3]', async (t) => {
  const testApp = await buildTestApp(t);
  await assertInvalidToken(testApp, await forge(testApp, { claims: { iss: 'https://evil.example' } }), 'iss');
  await assertInvalidToken(testApp, await forge(testApp, { claims: { aud: 'another-api' } }), 'aud');
});

test('guard: missing exp, iss, aud, sub, iat, jti, sid, scope or role is refused [RFC7519] [RFC8725 §3.8] [RFC9068 §4]', async (t) => {
  const testApp = await buildTestApp(t);
  for (const claim of ['exp', 'iss', 'aud', 'sub', 'iat', 'jti', 'sid', 'scope', 'role']) {
    await assertInvalidToken(testApp, await forge(testApp, { omit: [claim] }), `missing ${claim}`);
  }
});

test('guard: typ other than at+jwt is refused (RFC 9068 §4) [RFC8725 §3.11] [RFC8725 §3.12] [RFC9068 §2.1] [RFC9068 §4] [ASVS V9.2.2]', async (t) => {
  const testApp = await buildTestApp(t);
  await assertInvalidToken(testApp, await forge(testApp, { header: { typ: 'JWT' } }), 'typ JWT');
  await assertInvalidToken(testApp, await forge(testApp, { header: { typ: undefined } }), 'no typ');
});

test('guard: jku, x5u and jwk headers and unknown kids are refused (RFC 8725 §3.10) [RFC8725 §3.10] [ASVS V9.1.3] [API7:2023]', async (t) => {
  const testApp = await buildTestApp(t);
  await assertInvalidToken(
    testApp,
    await forge(testApp, { header: { jku: 'https://evil.example/jwks.json' } }),
    'jku',
  );
  await assertInvalidToken(
    testApp,
    await forge(testApp, { header: { x5u: 'https://evil.example/cert.pem' } }),
    'x5u',
  );
  await assertInvalidToken(
    testApp,
    await forge(testApp, { header: { jwk: await exportJWK((await generateKeyPair('ES256')).publicKey) } }),
    'jwk',
  );
  await assertInvalidToken(
    testApp,
    await forge(testApp, { header: { kid: 'someone-elses-key' } }),
    'unknown kid',
  );
  await assertInvalidToken(testApp, await forge(testApp, { header: { kid: undefined } }), 'no kid');
});

test('guard: 403 insufficient_scope names the scope the route needs [RFC6750 §3] [RFC6750 §3.1] [ASVS V8.2.1] [ASVS V10.3.2] [API5:2023]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp, { scope: 'profile' });
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/posts',
    headers: bearer(token),
    payload: { title: 't', content: 'c' },
  });
  assert.equal(response.statusCode, 403);
  assert.equal(
    response.headers['www-authenticate'],
    'Bearer realm="inkgate", error="insufficient_scope", scope="posts:write"',
  );
  assert.equal(response.json().detail, 'this request needs the scope: posts:write');
});

test('every answer to a request that carried a bearer token is Cache-Control: no-store, even a 401 or a public route [API8:2023]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const { token: adminToken } = await signedIn(testApp, { role: 'admin' });
  const cases: Array<[string, string, number]> = [
    ['/users/me', token, 200],
    ['/users/me/sessions', token, 200],
    ['/users/me/posts', token, 200],
    ['/users', adminToken, 200],
    ['/users', token, 403],
    ['/users/me', `${token.slice(0, -3)}AAA`, 401],
    ['/posts', token, 200],
    ['/.well-known/jwks.json', token, 200],
  ];
  for (const [url, credential, status] of cases) {
    const response = await testApp.app.inject({ method: 'GET', url, headers: bearer(credential) });
    assert.equal(response.statusCode, status, url);
    assert.equal(response.headers['cache-control'], 'no-store', url);
  }
  const anonymous = await testApp.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  assert.match(
    String(anonymous.headers['cache-control']),
    /^public, max-age=\d+$/,
    'public answers stay cacheable',
  );
});

test('verified-token cache: a token once accepted is refused at its exp, when its session is revoked, and when altered [ASVS V7.4.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const me = (credential: string) =>
    testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(credential) });
  assert.equal((await me(token)).statusCode, 200); // verified and cached
  assert.equal((await me(token)).statusCode, 200); // served from the cache

  // Every position of the signature and the payload, altered, is another string: verified in full.
  const [head, body, signature] = token.split('.') as [string, string, string];
  for (const altered of [
    `${head}.${body}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`,
    `${head}.${body.slice(0, -2)}${body.endsWith('AA') ? 'BB' : 'AA'}.${signature}`,
  ]) {
    await assertInvalidToken(testApp, altered, 'altered after the original was cached');
  }
  // The same claims under another algorithm (HS512, our own secret) are refused.
  const claims = decodeJwt(token);
  const secret = testApp.keys.current().syncVerificationKey as Buffer;
  const hs512 = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS512', kid: testApp.keys.current().kid, typ: 'at+jwt' })
    .sign(secret);
  await assertInvalidToken(testApp, hs512, 'another algorithm');

  testApp.clock.advance(900_000 - 1);
  assert.equal((await me(token)).statusCode, 200, 'just before exp');
  testApp.clock.advance(1 + 30_000);
  const expired = await me(token);
  assert.equal(expired.statusCode, 401, 'at exp plus the skew: never served from the cache');
  assert.match(String(expired.headers['www-authenticate']), /the token has expired/);
});

test('verified-token cache: a cached token of a revoked session is refused at once [ASVS V7.4.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const me = () => testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
  assert.equal((await me()).statusCode, 200);
  const logout = await testApp.app.inject({
    method: 'DELETE',
    url: '/users/me/sessions',
    headers: bearer(token),
  });
  assert.equal(logout.statusCode, 204);
  const after = await me();
  assert.equal(after.statusCode, 401);
  assert.match(String(after.headers['www-authenticate']), /the session has ended/);
});

test('refused tokens: a repeated bad token stays refused, and a token not valid yet is not remembered as bad', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const now = Math.floor(testApp.clock.now().getTime() / 1000);
  const early = await new SignJWT({ ...decodeJwt(token), nbf: now + 60 })
    .setProtectedHeader({ alg: 'HS256', kid: testApp.keys.current().kid, typ: 'at+jwt' })
    .sign(testApp.keys.current().signingKey);
  const me = (credential: string) =>
    testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(credential) });
  const before = await me(early);
  assert.equal(before.statusCode, 401);
  assert.match(String(before.headers['www-authenticate']), /not valid yet/);
  testApp.clock.advance(60_000);
  assert.equal((await me(early)).statusCode, 200, 'valid once its nbf has come');

  const bad = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
  for (let i = 0; i < 3; i += 1) {
    const response = await me(bad);
    assert.equal(response.statusCode, 401);
    assert.match(String(response.headers['www-authenticate']), /the token signature is invalid/);
  }
});
