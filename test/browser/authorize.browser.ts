import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJwt } from 'jose';
import { buildTestApp, createUser } from '../helpers/app.ts';
import { cspViolations, openPage, SHOTS, unexpectedProblems } from '../helpers/browser.ts';
import { enrolTotp, totpCode } from '../helpers/mfa.ts';
import { freePort } from '../helpers/net.ts';

test('Swagger UI: Authorize with the authorization code flow and PKCE opens inkgate’s sign-in page; then "Try it out" on GET /users/me answers 200, with no CSP violation anywhere', async (t) => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const testApp = await buildTestApp(t, { env: { ISSUER: base } });
  const user = await createUser(testApp, { password: 'swagger code flow passphrase' });
  await testApp.app.listen({ port, host: '127.0.0.1' });

  const { page, problems, dialogs } = await openPage(t);
  await page.goto(`${base}/docs/`);
  await page.locator('.btn.authorize').first().click();
  assert.equal(await page.locator('#client_id_authorizationCode').inputValue(), 'inkgate');
  assert.equal(
    await page.locator('#client_secret_authorizationCode').isVisible(),
    false,
    'no secret to give',
  );

  // The code flow's Authorize opens the sign-in page in a window of its own.
  const codeFlow = page
    .locator('.auth-container')
    .filter({ has: page.locator('#client_id_authorizationCode') });
  const popupOpened = page.waitForEvent('popup');
  await codeFlow.locator('.btn.modal-btn.auth.authorize').click();
  const popup = await popupOpened;
  const popupProblems: string[] = [];
  popup.on('console', (message) => {
    if (message.type() === 'error') popupProblems.push(message.text());
  });
  await popup.locator('#username').waitFor();
  assert.match(popup.url(), /\/authorize\?/);
  assert.match(popup.url(), /code_challenge_method=S256/);
  await popup.screenshot({ path: `${SHOTS}/authorize-login.png` });
  await popup.locator('#username').fill(user.username);
  await popup.locator('#password').fill(user.password);
  const tokenAnswer = page.waitForResponse((response) => response.url().endsWith('/token'));
  await popup.locator('button[type="submit"]').click();
  const token = await tokenAnswer;
  assert.equal(token.status(), 200);
  const request = token.request().postData() ?? '';
  assert.match(request, /grant_type=authorization_code/);
  assert.match(request, /code_verifier=/);
  // Authorized: the flow's form gives way to its Logout button.
  await page.locator('.auth-container').getByText('Logout').first().waitFor();
  await page.locator('.btn-done').first().click();

  const operation = page.locator('#operations-accounts-getUsersMe');
  await operation.locator('.opblock-summary').click();
  await operation.locator('.try-out__btn').click();
  const meAnswer = page.waitForResponse((response) => response.url().endsWith('/users/me'));
  await operation.locator('.execute').click();
  const me = await meAnswer;
  assert.equal(me.status(), 200);
  assert.equal((await me.json()).username, user.username);
  await page.screenshot({ path: `${SHOTS}/authorize-swagger-users-me.png` });

  assert.deepEqual(cspViolations([...problems, ...popupProblems]), []);
  assert.deepEqual(unexpectedProblems(popupProblems), []);
  assert.deepEqual(dialogs, []);
});

test('Swagger UI for an account with an authenticator app: the sign-in window asks for the code after the password, and the token it gets is acr mfa', async (t) => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const testApp = await buildTestApp(t, { env: { ISSUER: base } });
  const user = await createUser(testApp, { password: 'swagger two step passphrase' });
  const { secret } = await enrolTotp(testApp, user);
  await testApp.app.listen({ port, host: '127.0.0.1' });

  const { page, problems, dialogs } = await openPage(t);
  await page.goto(`${base}/docs/`);
  await page.locator('.btn.authorize').first().click();
  const codeFlow = page
    .locator('.auth-container')
    .filter({ has: page.locator('#client_id_authorizationCode') });
  const popupOpened = page.waitForEvent('popup');
  await codeFlow.locator('.btn.modal-btn.auth.authorize').click();
  const popup = await popupOpened;
  const popupProblems: string[] = [];
  popup.on('console', (message) => {
    if (message.type() === 'error') popupProblems.push(message.text());
  });
  await popup.locator('#username').fill(user.username);
  await popup.locator('#password').fill(user.password);
  await popup.getByRole('button', { name: 'Sign in', exact: true }).click();
  await popup.locator('#code').fill(totpCode(secret, testApp.clock.now()));
  const tokenAnswer = page.waitForResponse((response) => response.url().endsWith('/token'));
  await popup.getByRole('button', { name: 'Continue' }).click();
  const token = await tokenAnswer;
  assert.equal(token.status(), 200);
  const claims = decodeJwt(((await token.json()) as { access_token: string }).access_token);
  assert.equal(claims.acr, 'urn:inkgate:acr:mfa');
  assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);

  assert.deepEqual(cspViolations([...problems, ...popupProblems]), []);
  assert.deepEqual(unexpectedProblems(popupProblems), []);
  assert.deepEqual(dialogs, []);
});
