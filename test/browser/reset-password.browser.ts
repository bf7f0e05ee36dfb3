import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, createUser, loginPair } from '../helpers/app.ts';
import { cspViolations, openPage, SHOTS, unexpectedProblems } from '../helpers/browser.ts';
import { linkIn, startSmtp } from '../helpers/mail.ts';

test('password reset in a browser: the link from a delivered message opens the form, the new password is set, the old one is gone [ASVS V6.4.3]', async (t) => {
  const smtp = await startSmtp(t);
  // APP_URL is where the server listens, so the link in the message opens this server's page.
  const testApp = await buildTestApp(t, { env: { SMTP_URL: smtp.url, APP_URL: 'http://127.0.0.1:0' } });
  const user = await createUser(testApp, { password: 'the forgotten passphrase' });
  await smtp.next(user.email);
  const base = await testApp.app.listen({ port: 0, host: '127.0.0.1' });

  const asked = await testApp.app.inject({
    method: 'POST',
    url: '/password-resets',
    payload: { email: user.email },
  });
  assert.equal(asked.statusCode, 202);
  const mail = await smtp.next(user.email);
  const { url } = linkIn(mail);
  assert.equal(url.pathname, '/account/reset-password');
  const link = `${base}${url.pathname}${url.search}`;

  const { page, problems, dialogs } = await openPage(t);

  const opened = await page.goto(link);
  assert.equal(opened?.status(), 200);
  assert.equal(await page.locator('h1').textContent(), 'Choose a new password');
  await page.screenshot({ path: `${SHOTS}/reset-password-form.png` });

  // Two different passwords: the form comes back saying so, and nothing changed.
  await page.locator('#new_password').fill('a new passphrase for me');
  await page.locator('#new_password_again').fill('a different one');
  await page.locator('button[type=submit]').click();
  await page.locator('[role=alert]').waitFor();
  assert.match((await page.locator('[role=alert]').textContent()) ?? '', /differ/);

  await page.locator('#new_password').fill('a new passphrase for me');
  await page.locator('#new_password_again').fill('a new passphrase for me');
  const answer = page.waitForResponse((response) => response.request().method() === 'POST');
  await page.locator('button[type=submit]').click();
  assert.equal((await answer).status(), 200);
  await page.locator('h1', { hasText: 'Password changed' }).waitFor();
  await page.screenshot({ path: `${SHOTS}/reset-password-done.png` });

  // The link is spent; the new password logs in, the old one does not.
  assert.equal((await page.goto(link))?.status(), 400);
  await loginPair(testApp, { ...user, password: 'a new passphrase for me' });
  await assert.rejects(loginPair(testApp, user));
  assert.equal((await smtp.next(user.email)).subject, 'Your password was changed');

  // The pages ran under their policy without a single violation, their style allowed by its hash.
  assert.deepEqual(cspViolations(problems), []);
  assert.deepEqual(unexpectedProblems(problems), [], 'no other console error');
  assert.deepEqual(dialogs, []);
  assert.equal(await page.evaluate('getComputedStyle(document.body).maxWidth'), '512px');
});
