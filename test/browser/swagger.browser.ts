import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, createUser } from '../helpers/app.ts';
import { cspViolations, openPage, SHOTS } from '../helpers/browser.ts';

test('Swagger UI: Authorize logs in with the password flow, then "Try it out" on GET /users/me answers 200', async (t) => {
  const testApp = await buildTestApp(t);
  const user = await createUser(testApp, { password: 'swagger ui passphrase' });
  const base = await testApp.app.listen({ port: 0, host: '127.0.0.1' });

  const { page, problems } = await openPage(t);

  await page.goto(`${base}/docs/`);
  // The link under the title names the document's own address.
  await page.locator('.info').first().waitFor();
  let titleLink = '';
  for (let i = 0; i < 50 && !titleLink.endsWith('/openapi.json'); i += 1) {
    titleLink = (await page.locator('.info a').first().textContent()) ?? '';
    if (!titleLink.endsWith('/openapi.json')) await page.waitForTimeout(100);
  }
  assert.equal(titleLink, `${base}/openapi.json`);
  await page.locator('.btn.authorize').first().click();
  // The dialog says how to get an account, fills in the client id and asks for no secret.
  await page.getByText('Sign up with POST /users first').first().waitFor();
  assert.equal(await page.locator('#client_id_password').inputValue(), 'inkgate');
  assert.equal(await page.locator('#client_secret_password').isVisible(), false);
  assert.equal(await page.locator('#password_type').isVisible(), false);
  await page.locator('#oauth_username').fill(user.username);
  await page.locator('#oauth_password').fill(user.password);
  const tokenAnswer = page.waitForResponse((response) => response.url().endsWith('/token'));
  await page.locator('.auth-btn-wrapper .btn.modal-btn.auth.authorize').click();
  assert.equal((await tokenAnswer).status(), 200);
  await page.locator('.auth-container').getByText('Logout').waitFor();
  await page.screenshot({ path: `${SHOTS}/swagger-authorized.png` });
  await page.locator('.btn-done').click();

  const operation = page.locator('#operations-accounts-getUsersMe');
  await operation.locator('.opblock-summary').click();
  await operation.locator('.try-out__btn').click();
  const meAnswer = page.waitForResponse((response) => response.url().endsWith('/users/me'));
  await operation.locator('.execute').click();
  const me = await meAnswer;
  assert.equal(me.status(), 200);
  assert.equal((await me.json()).username, user.username);
  const status = operation.locator('.live-responses-table tbody .response-col_status').first();
  await status.waitFor();
  assert.equal((await status.textContent())?.trim(), '200');
  await page.screenshot({ path: `${SHOTS}/swagger-users-me.png`, fullPage: false });

  // The page ran under its content security policy without a single violation.
  assert.deepEqual(cspViolations(problems), []);
});
