import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { bearer, buildTestApp, createUser, signedIn } from '../helpers/app.ts';
import { hiddenFields } from '../helpers/browser-flow.ts';
import { freePort } from '../helpers/net.ts';

/** A browser over real sockets: fetch without following redirects, and a cookie jar. */
function fetchBrowser() {
  const jar = new Map<string, string>();
  const send = async (url: string, init: RequestInit = {}) => {
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: {
        ...(init.headers as Record<string, string>),
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
      },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, value] = pair!.split('=') as [string, string];
      if (value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  };
  return {
    get: (url: string) => send(url),
    post: (url: string, form: Record<string, string>) =>
      send(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      }),
  };
}

test('oauth4webapi drives the whole flow against a listening server: discovery, PKCE, iss, the code grant, RFC 9068 validation, refresh [RFC6749 §4.1] [RFC7636 §4.6] [RFC9207 §2] [RFC8414] [RFC9068 §4] [RFC8252 §7.3]', async (t) => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const testApp = await buildTestApp(t, { env: { ISSUER: base, JWT_ALG: 'ES256' } });
  await testApp.app.listen({ port, host: '127.0.0.1' });
  const { token: adminToken } = await signedIn(testApp, { role: 'admin' });
  const registered = await testApp.app.inject({
    method: 'POST',
    url: '/oauth-clients',
    headers: bearer(adminToken),
    payload: { name: 'A CLI', type: 'public', redirect_uris: ['http://127.0.0.1/callback'] },
  });
  const client: oauth.Client = { client_id: registered.json().client_id };
  const user = await createUser(testApp);
  const insecure = { [oauth.allowInsecureRequests]: true };

  const issuer = new URL(base);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
  );
  assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  // The CLI listens on a port of its own choosing (RFC 8252 §7.3).
  const redirectUri = 'http://127.0.0.1:61234/callback';
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: redirectUri,
    scope: 'profile',
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString();

  const browser = fetchBrowser();
  const loginPage = await browser.get(url.toString());
  assert.equal(loginPage.status, 200);
  const signIn = await browser.post(`${base}/account/login`, {
    ...hiddenFields(await loginPage.text()),
    username: user.username,
    password: user.password,
  });
  assert.equal(signIn.status, 303);
  const consent = await browser.get(new URL(signIn.headers.get('location')!, base).toString());
  assert.equal(consent.status, 200);
  const approved = await browser.post(`${base}/account/consent`, {
    ...hiddenFields(await consent.text()),
    decision: 'approve',
  });
  assert.equal(approved.status, 303);
  const callback = new URL(approved.headers.get('location')!);
  assert.equal(`${callback.origin}${callback.pathname}`, redirectUri);

  // The library checks state and iss (RFC 9207) itself.
  const params = oauth.validateAuthResponse(as, client, callback, state);
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(),
    params,
    redirectUri,
    verifier,
    insecure,
  );
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
  assert.equal(tokens.token_type, 'bearer');
  assert.equal(tokens.scope, 'profile');

  // RFC 9068: the access token as a resource server would check it, against the published JWKS.
  const claims = await oauth.validateJwtAccessToken(
    as,
    new Request(`${base}/users/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } }),
    'inkgate',
    insecure,
  );
  assert.equal(claims.client_id, client.client_id);
  assert.equal(claims.sub, user.id);
  const me = await fetch(`${base}/users/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(me.status, 200);

  // Refresh as the client.
  const refreshed = await oauth.processRefreshTokenResponse(
    as,
    client,
    await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, insecure),
  );
  assert.ok(refreshed.access_token);

  // A tampered iss in the callback is refused by the client library.
  const forged = new URL(callback);
  forged.searchParams.set('iss', 'https://evil.example.com');
  assert.throws(() => oauth.validateAuthResponse(as, client, forged, state));
});

test('openid-client, as a confidential client with client_secret_basic: discovery, PKCE, state and iss checked, the code grant and a refresh [RFC6749 §2.3.1] [RFC6749 §4.1] [RFC9207 §2]', async (t) => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const testApp = await buildTestApp(t, { env: { ISSUER: base } });
  await testApp.app.listen({ port, host: '127.0.0.1' });
  const { token: adminToken } = await signedIn(testApp, { role: 'admin' });
  const registered = (
    await testApp.app.inject({
      method: 'POST',
      url: '/oauth-clients',
      headers: bearer(adminToken),
      payload: {
        name: 'Notes server',
        type: 'confidential',
        redirect_uris: ['https://notes.example.com/cb'],
      },
    })
  ).json();
  const user = await createUser(testApp);

  const config = await client.discovery(
    new URL(base),
    registered.client_id,
    undefined,
    client.ClientSecretBasic(registered.client_secret),
    { algorithm: 'oauth2', execute: [client.allowInsecureRequests] },
  );
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: 'https://notes.example.com/cb',
    scope: 'profile posts:write',
    state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });

  const browser = fetchBrowser();
  const loginPage = await browser.get(url.toString());
  const signIn = await browser.post(`${base}/account/login`, {
    ...hiddenFields(await loginPage.text()),
    username: user.username,
    password: user.password,
  });
  const consent = await browser.get(new URL(signIn.headers.get('location')!, base).toString());
  const approved = await browser.post(`${base}/account/consent`, {
    ...hiddenFields(await consent.text()),
    decision: 'approve',
  });
  const callback = new URL(approved.headers.get('location')!);

  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
  });
  assert.equal(tokens.scope, 'profile posts:write');
  assert.equal(decodeJwt(tokens.access_token).client_id, registered.client_id);
  const renewed = await client.refreshTokenGrant(config, tokens.refresh_token!);
  assert.ok(renewed.access_token);

  // The wrong secret: 401 with a Basic challenge (RFC 6749 §5.2), as the library reports it.
  const impostor = await client.discovery(
    new URL(base),
    registered.client_id,
    undefined,
    client.ClientSecretBasic('not the secret'),
    { algorithm: 'oauth2', execute: [client.allowInsecureRequests] },
  );
  await assert.rejects(client.refreshTokenGrant(impostor, renewed.refresh_token!), (error: unknown) => {
    const challenge = error as { status?: number; cause?: Array<{ scheme: string }> };
    assert.equal(challenge.status, 401);
    assert.equal(challenge.cause?.[0]?.scheme, 'basic');
    return true;
  });
});
