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

/**
 * A positive control with one change: a real user's real token, its claims re-signed with the
 * server's own key, then `overrides` applied. Unchanged, it passes (first test); so a refusal can
 * only come from the one thing a test changes, and the description says which check refused it.
 */
async function forge(
  testApp: TestApp,
  base: string,
  overrides: {
    header?: Partial<JWTHeaderParameters>;
    claims?: JWTPayload;
    omit?: string[];
    key?: Parameters<SignJWT['sign']>[0];
  } = {},
) {
  const claims: JWTPayload = { ...decodeJwt(base), ...overrides.claims };
  for (const name of overrides.omit ?? []) delete claims[name];
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', kid: testApp.keys.current().kid, typ: 'at+jwt', ...overrides.header })
    .sign(overrides.key ?? testApp.keys.current().signingKey);
}

/** The token is refused with 401 invalid_token, and `description` names the check that refused it. */
/** The 401 for `token`, asked twice: a refusal seen again is answered from what was made the first time, alike. */
async function assertInvalidToken(testApp: TestApp, token: string, description: string, why = description) {
  const answers = [];
  for (const attempt of ['first', 'again']) {
    const response = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: bearer(token),
      payload: { title: 't', content: 'c' },
    });
    assert.equal(response.statusCode, 401, `${why} (${attempt})`);
    assert.equal(
      response.headers['www-authenticate'],
      `Bearer realm="inkgate", error="invalid_token", error_description="${description}"`,
      `${why} (${attempt})`,
    );
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    const body = response.json();
    assert.equal(body.status, 401);
    assert.equal(body.code, 'invalid_token');
    assert.equal(body.detail, description, `${why} (${attempt})`);
    answers.push(response);
  }
  assert.deepEqual(answers[1]!.json(), answers[0]!.json(), why);
  return answers[0]!;
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
  const forged = await forge(testApp, token);
  assert.equal(forged, token, 'HS256 is deterministic: the forge reproduces the genuine token exactly');
  const me = await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(forged) });
  assert.equal(me.statusCode, 200);
  assert.equal(me.json().id, user.id);
  const post = await testApp.app.inject({
    method: 'POST',
    url: '/posts',
    headers: bearer(forged),
    payload: { title: 't', content: 'c' },
  });
  assert.equal(post.statusCode, 201, 'the route the refusal tests use accepts the control');
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
  const { token } = await signedIn(testApp);
  const [, payload] = token.split('.');
  for (const alg of ['none', 'None', 'NONE']) {
    const header = base64url.encode(JSON.stringify({ alg, typ: 'at+jwt', kid: testApp.keys.current().kid }));
    await assertInvalidToken(
      testApp,
      `${header}.${payload}.`,
      'the token signature is missing',
      `alg ${alg}`,
    );
  }
  // With a signature part, alg none is refused as an algorithm we do not accept.
  const header = base64url.encode(
    JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: testApp.keys.current().kid }),
  );
  const signature = token.split('.')[2];
  await assertInvalidToken(
    testApp,
    `${header}.${payload}.${signature}`,
    'the token algorithm is not accepted',
    'alg none with a signature',
  );
});

test('guard: a tampered payload or signature is refused [RFC8725 §3.3] [ASVS V9.1.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const elevated = base64url.encode(
    JSON.stringify({ ...claims, role: 'admin', scope: 'profile posts:write admin' }),
  );
  await assertInvalidToken(testApp, `${header}.${elevated}.${signature}`, 'the token signature is invalid');
  const flipped = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA');
  await assertInvalidToken(testApp, `${header}.${payload}.${flipped}`, 'the token signature is invalid');
  await assertInvalidToken(testApp, `${header}.${payload}`, 'the token is malformed');
  await assertInvalidToken(testApp, 'not-a-jwt', 'the token is malformed');
});

test('guard: a token signed with another secret is refused, even with our kid [RFC8725 §3.3] [ASVS V9.1.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const other = new TextEncoder().encode('another-secret-that-is-at-least-32-bytes');
  await assertInvalidToken(
    testApp,
    await forge(testApp, token, { key: other }),
    'the token signature is invalid',
  );
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
  const genuine = await forge(testApp, token, { key: secret });
  assert.equal(
    (await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(genuine) })).statusCode,
    200,
  );
  for (const alg of ['HS384', 'HS512']) {
    await assertInvalidToken(
      testApp,
      await forge(testApp, token, { header: { alg }, key: secret }),
      'the token algorithm is not accepted',
      alg,
    );
  }
});

test('guard: expiry allows 30 s of clock skew and no more [RFC7519] [RFC9068 §4] [ASVS V9.2.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  testApp.clock.advance((900 + 29) * 1000);
  const stillOk = await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
  assert.equal(stillOk.statusCode, 200);
  testApp.clock.advance(2000);
  await assertInvalidToken(testApp, token, 'the token has expired');
});

test('guard: iat or nbf more than 30 s in the future is refused [RFC7519] [ASVS V9.2.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const now = Math.floor(testApp.clock.now().getTime() / 1000);
  await assertInvalidToken(
    testApp,
    await forge(testApp, token, { claims: { iat: now + 60, exp: now + 960 } }),
    'the token was issued in the future',
  );
  await assertInvalidToken(
    testApp,
    await forge(testApp, token, { claims: { nbf: now + 60 } }),
    'the token is not valid yet',
  );
  for (const claims of [{ iat: now + 20 }, { nbf: now + 20 }]) {
    const skewed = await testApp.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: bearer(await forge(testApp, token, { claims })),
    });
    assert.equal(skewed.statusCode, 200, `within the skew: ${JSON.stringify(claims)}`);
  }
});

test('guard: a wrong issuer or audience is refused [RFC7519] [RFC8725 §3.8] [RFC8725 §3.9] [RFC9068 §4] [ASVS V9.2.3] [ASVS V9.2.4] [ASVS V10.3.1] [ASVS V10.3.3]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  await assertInvalidToken(
    testApp,
    await forge(testApp, token, { claims: { iss: 'https://evil.example' } }),
    "the token's iss claim is not accepted",
  );
  await assertInvalidToken(
    testApp,
    await forge(testApp, token, { claims: { aud: 'another-api' } }),
    "the token's aud claim is not accepted",
  );
});

test('guard: missing exp, iss, aud, sub, iat, jti, sid, scope, role or username is refused [RFC7519] [RFC8725 §3.8] [RFC9068 §4]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  for (const claim of ['exp', 'iss', 'aud', 'sub', 'iat', 'jti', 'sid', 'scope', 'role', 'username']) {
    await assertInvalidToken(
      testApp,
      await forge(testApp, token, { omit: [claim] }),
      `the token is missing the ${claim} claim`,
    );
  }
  await assertInvalidToken(
    testApp,
    await forge(testApp, token, { claims: { role: 'superuser' } }),
    "the token's role claim is not accepted",
  );
  await assertInvalidToken(
    testApp,
    await forge(testApp, token, { claims: { scope: 'profile root' } }),
    'the token has an unknown scope',
  );
});

test('guard: typ other than at+jwt is refused (RFC 9068 §4) [RFC8725 §3.11] [RFC8725 §3.12] [RFC9068 §2.1] [RFC9068 §4] [ASVS V9.2.2]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  for (const typ of ['JWT', 'application/jwt', undefined]) {
    await assertInvalidToken(
      testApp,
      await forge(testApp, token, { header: { typ } }),
      'the token is not an access token (typ)',
      String(typ),
    );
  }
  const mediaType = await forge(testApp, token, { header: { typ: 'application/at+jwt' } });
  const accepted = await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(mediaType) });
  assert.equal(accepted.statusCode, 200, 'the media type form of at+jwt (RFC 7515 §4.1.9)');
});

test('guard: jku, x5u, jwk and x5c headers and unknown kids are refused (RFC 8725 §3.10) [RFC8725 §3.10] [ASVS V9.1.3] [API7:2023]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const headers: Array<[string, Partial<JWTHeaderParameters>]> = [
    ['jku', { jku: 'https://evil.example/jwks.json' }],
    ['x5u', { x5u: 'https://evil.example/cert.pem' }],
    ['jwk', { jwk: await exportJWK((await generateKeyPair('ES256')).publicKey) }],
    ['x5c', { x5c: ['MIIB'] }],
  ];
  for (const [name, header] of headers) {
    await assertInvalidToken(
      testApp,
      await forge(testApp, token, { header }),
      `the ${name} header is not accepted`,
    );
  }
  await assertInvalidToken(
    testApp,
    await forge(testApp, token, { header: { kid: 'someone-elses-key' } }),
    'the token was not signed by a key of this server',
  );
  await assertInvalidToken(
    testApp,
    await forge(testApp, token, { header: { kid: undefined } }),
    'the token names no key (kid)',
  );
});

test('guard: a well-formed token of an ended session, another user or a disabled user is refused [RFC9068 §4] [ASVS V7.4.1]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const { user: other } = await signedIn(testApp);
  await assertInvalidToken(
    testApp,
    await forge(testApp, token, { claims: { sub: other.id } }),
    'the session has ended',
    'another user on this session',
  );
  await assertInvalidToken(
    testApp,
    await forge(testApp, token, { claims: { sid: '01a204c7-66c1-742b-a8b0-af08bd300cf0' } }),
    'the session has ended',
    'a session that does not exist',
  );
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
  const flip = (part: string) => `${part.slice(0, -2)}${part.endsWith('AA') ? 'BB' : 'AA'}`;
  await assertInvalidToken(testApp, `${head}.${body}.${flip(signature)}`, 'the token signature is invalid');
  await assertInvalidToken(testApp, `${head}.${flip(body)}.${signature}`, 'the token is malformed');
  // The same claims under another algorithm (HS512, our own secret) are refused.
  const claims = decodeJwt(token);
  const secret = testApp.keys.current().syncVerificationKey as Buffer;
  const hs512 = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS512', kid: testApp.keys.current().kid, typ: 'at+jwt' })
    .sign(secret);
  await assertInvalidToken(testApp, hs512, 'the token algorithm is not accepted', 'another algorithm');

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
