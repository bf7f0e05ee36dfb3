import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { decodeJwt } from 'jose';
import { buildTestApp, createUser, tokenFor } from '../helpers/app.ts';
import { cspViolations, openPage, SHOTS, unexpectedProblems } from '../helpers/browser.ts';
import { freePort } from '../helpers/net.ts';

test('passkeys in Chromium’s virtual authenticator: added with user verification, then a sign-in with the passkey alone through the code flow gives acr mfa; with user verification off it signs nobody in; no CSP violation [WebAuthn §7.2] [RFC8176 §2] [ASVS V6.5.1]', async (t) => {
  const port = await freePort();
  // An IP address is no valid relying party id: the pages are served as http://localhost.
  const base = `http://localhost:${port}`;
  const testApp = await buildTestApp(t, { env: { ISSUER: base } });
  await testApp.app.listen({ port, host: 'localhost' });
  const user = await createUser(testApp);
  const passwordToken = await tokenFor(testApp, user);

  const { page, problems, dialogs } = await openPage(t);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  // Adding one: the JSON routes, driven by the page script's library on an inkgate page.
  await page.goto(`${base}/account/login`);
  await page.waitForFunction(() => 'SimpleWebAuthnBrowser' in globalThis);
  const added = await page.evaluate(async (token) => {
    const auth = { authorization: `Bearer ${token}` };
    const options = (await (
      await fetch('/users/me/passkeys/options', { method: 'POST', headers: auth })
    ).json()) as {
      authenticatorSelection: unknown;
    };
    // biome-ignore lint/suspicious/noExplicitAny: the library is the page's global.
    const webauthn = (globalThis as any).SimpleWebAuthnBrowser;
    const response = await webauthn.startRegistration({ optionsJSON: options });
    const answer = await fetch('/users/me/passkeys', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Chromium', response }),
    });
    return {
      status: answer.status,
      body: (await answer.json()) as { name: string; recovery_codes: string[] },
      selection: options.authenticatorSelection,
    };
  }, passwordToken);
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.deepEqual(added.selection, {
    residentKey: 'required',
    userVerification: 'required',
    requireResidentKey: true,
  });
  assert.equal(added.body.name, 'Chromium');
  assert.equal(added.body.recovery_codes.length, 10, 'the first factor comes with recovery codes');
  const [stored] = await testApp.database.db.selectFrom('passkeys').selectAll().execute();
  assert.equal(stored!.user_id, user.id);

  // Signing in with the passkey alone, from the code flow's login page.
  const verifier = randomBytes(32).toString('base64url');
  const authorize = (extra: Record<string, string> = {}) =>
    `${base}/authorize?${new URLSearchParams({
      response_type: 'code',
      client_id: 'inkgate',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...extra,
    })}`;
  await page.goto(authorize());
  const button = page.getByRole('button', { name: 'Sign in with a passkey' });
  await button.waitFor();
  await page.screenshot({ path: `${SHOTS}/passkey-login.png` });
  const arrived = page.waitForURL(/oauth2-redirect\.html\?/);
  await button.click();
  await arrived;
  const code = new URL(page.url()).searchParams.get('code')!;
  const redeemed = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      client_id: 'inkgate',
    }),
  });
  assert.equal(redeemed.status, 200);
  const claims = decodeJwt(((await redeemed.json()) as { access_token: string }).access_token);
  assert.deepEqual(claims.amr, ['hwk', 'user']);
  assert.equal(claims.acr, 'urn:inkgate:acr:mfa');
  const [used] = await testApp.database.db.selectFrom('passkeys').selectAll().execute();
  assert.ok(used!.last_used_at !== null, 'its use is recorded');

  // Without user verification the same passkey signs nobody in.
  await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
  await page.goto(authorize({ prompt: 'login' }));
  await button.waitFor();
  await button.click();
  // The page says so, or sends the browser back with failed=passkey. Watched from Playwright's side
  // (a locator, the URL): a predicate evaluated in the page is an eval, which the page's CSP refuses
  // once the navigation it raced with has landed.
  const quiet = () => {};
  await Promise.race([
    page.locator('#passkey-status').filter({ hasText: /\S/ }).waitFor().catch(quiet),
    page.waitForURL(/failed=passkey/).catch(quiet),
  ]);
  assert.ok(
    page.url().includes('failed=passkey') ||
      /\S/.test((await page.locator('#passkey-status').textContent()) ?? ''),
    'the sign-in was refused, visibly',
  );
  assert.doesNotMatch(page.url(), /oauth2-redirect/);

  assert.deepEqual(cspViolations(problems), []);
  // Swagger UI's redirect page (the first-party client's redirect URI) looks for the window that
  // opened it, and there is none here: its complaint is not a page of inkgate's.
  assert.deepEqual(
    unexpectedProblems(problems).filter((text) => !/swaggerUIRedirectOauth2/.test(text)),
    [],
  );
  assert.deepEqual(dialogs, []);
});
