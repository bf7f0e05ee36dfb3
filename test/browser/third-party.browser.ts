import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { bearer, buildTestApp, createUser, signedIn } from '../helpers/app.ts';
import { cspViolations, openPage, SHOTS, unexpectedProblems } from '../helpers/browser.ts';
import { freePort } from '../helpers/net.ts';

test('a third-party public client with a loopback redirect: sign-in and consent pages in Chromium, then its callback gets code, state and iss; no CSP violation on any page', async (t) => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const testApp = await buildTestApp(t, { env: { ISSUER: base } });
  await testApp.app.listen({ port, host: '127.0.0.1' });
  const { token } = await signedIn(testApp, { role: 'admin' });
  const client = (
    await testApp.app.inject({
      method: 'POST',
      url: '/oauth-clients',
      headers: bearer(token),
      payload: { name: 'Desk CLI', type: 'public', redirect_uris: ['http://127.0.0.1/callback'] },
    })
  ).json();
  const user = await createUser(testApp);

  // The CLI's own loopback listener, on a port of its choosing (RFC 8252 §7.3).
  const callbacks: URL[] = [];
  const listener = createServer((request, response) => {
    const arrived = new URL(request.url ?? '/', 'http://127.0.0.1');
    // The browser also asks for /favicon.ico; only the callback counts.
    if (arrived.pathname === '/callback') callbacks.push(arrived);
    response.writeHead(200, { 'content-type': 'text/plain' }).end('You can close this window.');
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  t.after(() => listener.close());
  const redirectUri = `http://127.0.0.1:${(listener.address() as { port: number }).port}/callback`;

  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const url = `${base}/authorize?${new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: redirectUri,
    scope: 'profile',
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })}`;

  const { page, problems, dialogs } = await openPage(t);
  await page.goto(url);
  await page.locator('#username').fill(user.username);
  await page.locator('#password').fill(user.password);
  await page.locator('button[type="submit"]').click();
  await page.getByText('Allow access?').waitFor();
  assert.match(await page.locator('body').innerText(), /Desk CLI/);
  await page.screenshot({ path: `${SHOTS}/authorize-consent.png` });
  await page.locator('button[value="approve"]').click();
  await page.getByText('You can close this window.').waitFor();

  assert.equal(callbacks.length, 1);
  const [callback] = callbacks as [URL];
  assert.equal(callback.searchParams.get('state'), state);
  assert.equal(callback.searchParams.get('iss'), base);
  assert.match(callback.searchParams.get('code') ?? '', /^[A-Za-z0-9_-]{43}$/);
  const tokens = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      code_verifier: verifier,
      client_id: client.client_id,
      redirect_uri: redirectUri,
    }),
  });
  assert.equal(tokens.status, 200);

  // Every page ran under its policy: the form's redirect on to the loopback origin was allowed by
  // form-action, and nothing else was refused or failed.
  assert.deepEqual(cspViolations(problems), []);
  assert.deepEqual(unexpectedProblems(problems), []);
  assert.deepEqual(dialogs, []);
});
