import assert from 'node:assert/strict';
import { sign as cryptoSign, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import {
  base64url,
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import { createKeyCipher } from '../../src/keys/key-encryption.ts';
import { rotateKeys } from '../../src/keys/stored-keys.ts';
import {
  bearer,
  buildTestApp,
  captureLogs,
  createUser,
  loginPair,
  signedIn,
  type TestApp,
} from '../helpers/app.ts';

const ASYMMETRIC = ['RS256', 'ES256', 'EdDSA'] as const;

async function me(testApp: TestApp, token: string) {
  return testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
}

for (const alg of ASYMMETRIC) {
  test(`${alg}: a token verifies elsewhere with the JWKS fetched from the running server (jose createRemoteJWKSet) [RFC8725 §3.2] [RFC7638]`, async (t) => {
    const testApp = await buildTestApp(t, { env: { JWT_ALG: alg } });
    const { token } = await signedIn(testApp);
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, alg);
    assert.equal(header.typ, 'at+jwt');

    const base = await testApp.app.listen({ port: 0, host: '127.0.0.1' });
    const jwks = await fetch(`${base}/.well-known/jwks.json`);
    assert.equal(jwks.status, 200);
    const maxAge = Number(/max-age=(\d+)/.exec(jwks.headers.get('cache-control') ?? '')?.[1]);
    assert.ok(maxAge > 0 && maxAge < 900, 'cacheable for less than an access-token lifetime');
    const body = (await jwks.json()) as { keys: Array<Record<string, string>> };
    assert.equal(body.keys.length, 1);
    const [jwk] = body.keys;
    assert.equal(jwk!.kid, header.kid);
    assert.equal(jwk!.alg, alg);
    assert.equal(jwk!.use, 'sig');
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'])
      assert.equal(jwk![secret], undefined, `no ${secret}`);
    assert.equal(await calculateJwkThumbprint(jwk as never), header.kid, 'kid is the RFC 7638 thumbprint');

    const remote = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(token, remote, {
      issuer: 'http://inkgate.test',
      audience: 'inkgate',
      typ: 'at+jwt',
      algorithms: [alg],
      currentDate: testApp.clock.now(),
    });
    assert.equal(typeof payload.sid, 'string');
  });
}

test('HS256: the JWKS is empty (a shared secret is never published)', async (t) => {
  const testApp = await buildTestApp(t);
  const response = await testApp.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  assert.equal(response.statusCode, 200);
  assert.deepEqual(response.json(), { keys: [] });
  assert.equal(response.headers['cache-control'], 'public, max-age=300');
});

test('JWT_PRIVATE_KEY: a PEM key from configuration signs, and its kid is its thumbprint [RFC7638]', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const testApp = await buildTestApp(t, { env: { JWT_ALG: 'ES256', JWT_PRIVATE_KEY: pem } });
  const { token } = await signedIn(testApp);
  assert.equal(decodeProtectedHeader(token).kid, await calculateJwkThumbprint(await exportJWK(publicKey)));
  const stored = await testApp.database.db.selectFrom('signing_keys').select('kid').execute();
  assert.deepEqual(stored, [], 'no key was generated or stored');
});

test('GET /.well-known/oauth-authorization-server: RFC 8414 metadata, S256 only, iss in every answer [RFC8414] [RFC9207 §3]', async (t) => {
  const testApp = await buildTestApp(t);
  const response = await testApp.app.inject({
    method: 'GET',
    url: '/.well-known/oauth-authorization-server',
  });
  assert.equal(response.statusCode, 200);
  const methods = ['none', 'client_secret_basic', 'client_secret_post'];
  assert.deepEqual(response.json(), {
    issuer: 'http://inkgate.test',
    authorization_endpoint: 'http://inkgate.test/authorize',
    token_endpoint: 'http://inkgate.test/token',
    revocation_endpoint: 'http://inkgate.test/token/revoke',
    jwks_uri: 'http://inkgate.test/.well-known/jwks.json',
    grant_types_supported: ['authorization_code', 'refresh_token', 'password'],
    scopes_supported: ['profile', 'posts:write', 'comments:write', 'admin'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    token_endpoint_auth_methods_supported: methods,
    revocation_endpoint_auth_methods_supported: methods,
    acr_values_supported: ['urn:inkgate:acr:pwd', 'urn:inkgate:acr:mfa'],
    service_documentation: 'http://inkgate.test/docs',
  });
  const { issuer } = response.json();
  assert.equal(
    issuer,
    decodeJwt((await signedIn(testApp)).token).iss,
    'the issuer is the iss of every token',
  );
});

test('rotation on a running server: new key published at once, signing after max-age, old tokens still valid', async (t) => {
  const testApp = await buildTestApp(t, { env: { JWT_ALG: 'ES256' } });
  const user = await createUser(testApp);
  const before = await loginPair(testApp, user);
  const oldKid = decodeProtectedHeader(before.access_token).kid;

  const rotated = await rotateKeys(testApp.database.db, {
    alg: 'ES256',
    now: testApp.clock.now(),
    accessTokenTtlSeconds: 900,
    cipher: createKeyCipher(undefined),
  });
  testApp.clock.advance(30_000);
  const jwks = (await testApp.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
  assert.deepEqual(jwks.keys.map((k: { kid: string }) => k.kid).sort(), [oldKid, rotated!.kid].sort());
  const during = await loginPair(testApp, user);
  assert.equal(decodeProtectedHeader(during.access_token).kid, oldKid, 'not yet');

  testApp.clock.set(rotated!.activatesAt);
  const after = await loginPair(testApp, user);
  assert.equal(decodeProtectedHeader(after.access_token).kid, rotated!.kid);
  assert.equal(
    (await me(testApp, during.access_token)).statusCode,
    200,
    'a token of the previous key still passes',
  );
  assert.equal((await me(testApp, after.access_token)).statusCode, 200);

  testApp.clock.advance((900 + 30) * 1000);
  const later = (await testApp.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
  assert.deepEqual(
    later.keys.map((k: { kid: string }) => k.kid),
    [rotated!.kid],
    'the previous key has left',
  );
});

test('JWT_PREVIOUS_KEYS: tokens of a key managed elsewhere keep verifying, and its public key is published', async (t) => {
  const old = generateKeyPairSync('ed25519');
  const current = generateKeyPairSync('ed25519');
  const testApp = await buildTestApp(t, {
    env: {
      JWT_ALG: 'EdDSA',
      JWT_PRIVATE_KEY: current.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      JWT_PREVIOUS_KEYS: old.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    },
  });
  const { token } = await signedIn(testApp);
  const claims = decodeJwt(token);
  const oldKid = await calculateJwkThumbprint(await exportJWK(old.publicKey));
  const byOldKey = await new SignJWT(claims as JWTPayload)
    .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: oldKid })
    .sign(old.privateKey);
  assert.equal((await me(testApp, byOldKey)).statusCode, 200);
  const jwks = (await testApp.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
  assert.deepEqual(
    jwks.keys.map((k: { kid: string }) => k.kid).sort(),
    [decodeProtectedHeader(token).kid, oldKid].sort(),
  );
});

test('key material never reaches a log line or an answer', async (t) => {
  const { logger, lines } = captureLogs('trace');
  const testApp = await buildTestApp(t, { env: { JWT_ALG: 'RS256' }, logger });
  const { token } = await signedIn(testApp);
  await me(testApp, token);
  const stored = await testApp.database.db
    .selectFrom('signing_keys')
    .select('private_jwk')
    .executeTakeFirstOrThrow();
  const { d } = JSON.parse(stored.private_jwk) as { d: string };
  const answers = [
    await testApp.app.inject({ method: 'GET', url: '/.well-known/jwks.json' }),
    await testApp.app.inject({ method: 'GET', url: '/openapi.json' }),
  ].map((r) => r.body);
  const everything = [...lines, ...answers].join('\n');
  assert.ok(!everything.includes(d), 'the private exponent appears nowhere');
  assert.doesNotMatch(everything, /PRIVATE KEY|"d":/);
});

// RFC 8725 under an asymmetric algorithm: each attack is refused with 401 invalid_token.
const attacks: Array<[string, (ctx: AttackContext) => Promise<string>]> = [
  ['alg none', async ({ claims, kid }) => `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${b64(claims)}.`],
  [
    'algorithm confusion: HS256 signed with the RS256 public key as the secret',
    async ({ claims, kid, publicPem }) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
        .sign(new TextEncoder().encode(publicPem)),
  ],
  [
    'jku header pointing at a key set of the attacker',
    async ({ claims, attackerKey }) =>
      new SignJWT(claims)
        .setProtectedHeader({
          alg: 'RS256',
          typ: 'at+jwt',
          jku: 'https://evil.example/jwks.json',
          kid: 'evil',
        })
        .sign(attackerKey),
  ],
  [
    'x5u header',
    async ({ claims, attackerKey, kid }) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', x5u: 'https://evil.example/c.pem', kid })
        .sign(attackerKey),
  ],
  [
    'embedded jwk header carrying the attacker’s own key',
    async ({ claims, attackerKey, attackerJwk }) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', jwk: attackerJwk })
        .sign(attackerKey),
  ],
  [
    'crit header naming an extension we do not understand',
    async ({ claims, kid, privateKey }) => {
      // jose will not even sign this, so it is put together by hand, with a genuine signature.
      const input = `${b64({ alg: 'RS256', typ: 'at+jwt', kid, crit: ['exp-v2'], 'exp-v2': 1 })}.${b64(claims)}`;
      return `${input}.${base64url.encode(cryptoSign('sha256', Buffer.from(input), privateKey))}`;
    },
  ],
  [
    'unknown kid',
    async ({ claims, attackerKey }) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'nope' }).sign(attackerKey),
  ],
  [
    'typ JWT instead of at+jwt',
    async ({ claims, kid, privateKey }) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(privateKey),
  ],
  [
    'missing exp',
    async ({ claims, kid, privateKey }) => sign({ ...claims, exp: undefined }, kid, privateKey),
  ],
  [
    'missing iss',
    async ({ claims, kid, privateKey }) => sign({ ...claims, iss: undefined }, kid, privateKey),
  ],
  [
    'missing aud',
    async ({ claims, kid, privateKey }) => sign({ ...claims, aud: undefined }, kid, privateKey),
  ],
  [
    'iat 60 s in the future',
    async ({ claims, kid, privateKey, now }) =>
      sign({ ...claims, iat: now + 60, exp: now + 960 }, kid, privateKey),
  ],
  [
    'nbf 60 s in the future',
    async ({ claims, kid, privateKey, now }) => sign({ ...claims, nbf: now + 60 }, kid, privateKey),
  ],
];

interface AttackContext {
  claims: JWTPayload;
  kid: string;
  publicPem: string;
  privateKey: import('node:crypto').KeyObject;
  attackerKey: import('node:crypto').KeyObject;
  attackerJwk: import('jose').JWK;
  now: number;
}

function b64(value: unknown) {
  return base64url.encode(JSON.stringify(value));
}

function sign(claims: JWTPayload, kid: string, key: import('node:crypto').KeyObject) {
  return new SignJWT(Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined)))
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
    .sign(key);
}

for (const [name, make] of attacks) {
  test(`RFC 8725 (RS256): ${name} is 401 invalid_token [RFC8725 §3.1] [RFC8725 §3.10] [RFC6750 §3.1] [ASVS V9.1.2] [ASVS V9.1.3] [RFC9068 §4]`, async (t) => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const testApp = await buildTestApp(t, {
      env: {
        JWT_ALG: 'RS256',
        JWT_PRIVATE_KEY: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      },
    });
    const { token } = await signedIn(testApp);
    const claims = decodeJwt(token);
    const kid = decodeProtectedHeader(token).kid!;
    // The same claims, signed properly, pass: only the attack differs.
    assert.equal((await me(testApp, await sign(claims, kid, privateKey))).statusCode, 200);

    const forged = await make({
      claims,
      kid,
      publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      privateKey,
      attackerKey: attacker.privateKey,
      attackerJwk: await exportJWK(attacker.publicKey),
      now: Math.floor(testApp.clock.now().getTime() / 1000),
    });
    const response = await me(testApp, forged);
    assert.equal(response.statusCode, 401);
    assert.match(
      String(response.headers['www-authenticate']),
      /^Bearer realm="inkgate", error="invalid_token", error_description="[^"]+"$/,
    );
  });
}
