import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, createUser } from '../helpers/app.ts';
import { cspViolations, openPage, SHOTS, unexpectedProblems } from '../helpers/browser.ts';
import { linkIn, startSmtp } from '../helpers/mail.ts';

test('email verification in a browser: opening the link shows a button and changes nothing; the button confirms [ASVS V6.4.1]', async (t) => {
  const smtp = await startSmtp(t);
  const testApp = await buildTestApp(t, { env: { SMTP_URL: smtp.url, APP_URL: 'http://127.0.0.1:0' } });
  const user = await createUser(testApp);
  const { url } = linkIn(await smtp.next(user.email)); // the signup's verification message
  assert.equal(url.pathname, '/account/verify-email');
  const base = await testApp.app.listen({ port: 0, host: '127.0.0.1' });
  const link = `${base}${url.pathname}${url.search}`;
  const verified = async () =>
    (
      await testApp.database.db
        .selectFrom('users')
        .select('email_verified')
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow()
    ).email_verified;

  const { page, problems, dialogs } = await openPage(t);
  const opened = await page.goto(link);
  assert.equal(opened?.status(), 200);
  assert.equal(await page.locator('h1').textContent(), 'Confirm your address');
  await page.screenshot({ path: `${SHOTS}/verify-email-button.png` });
  assert.equal(await verified(), false, 'opening the link confirmed nothing');

  const answer = page.waitForResponse((response) => response.request().method() === 'POST');
  await page.locator('button[type=submit]').click();
  assert.equal((await answer).status(), 200);
  await page.locator('h1', { hasText: 'Address confirmed' }).waitFor();
  await page.screenshot({ path: `${SHOTS}/verify-email-done.png` });
  assert.equal(await verified(), true);

  // Used once: opening the link again says it does not work.
  assert.equal((await page.goto(link))?.status(), 400);
  assert.equal(await page.locator('h1').textContent(), 'This link does not work');

  assert.deepEqual(cspViolations(problems), []);
  assert.deepEqual(unexpectedProblems(problems), [], 'no other console error');
  assert.deepEqual(dialogs, []);
  assert.equal(await page.evaluate('getComputedStyle(document.body).maxWidth'), '512px', 'its style applied');
});
