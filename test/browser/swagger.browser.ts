import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp } from '../helpers/app.ts';
import { cspViolations, openPage, SHOTS } from '../helpers/browser.ts';

test('Swagger UI: the document’s own address under the title; the Authorize dialog offers the code flow as the first-party client, with no secret', async (t) => {
  const testApp = await buildTestApp(t);
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
  // The dialog says how to get an account, fills in the client id, asks for no secret, and offers
  // the code flow (the password flow's form is hidden: see openapi.ts).
  await page.getByText('Sign up with POST /users first').first().waitFor();
  assert.equal(await page.locator('#client_id_authorizationCode').inputValue(), 'inkgate');
  assert.equal(await page.locator('#client_secret_authorizationCode').isVisible(), false);
  assert.equal(await page.locator('#oauth_username').isVisible(), false);
  await page.screenshot({ path: `${SHOTS}/swagger-authorize-dialog.png` });

  // The page ran under its content security policy without a single violation.
  assert.deepEqual(cspViolations(problems), []);
});
