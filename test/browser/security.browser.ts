import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, createUser } from '../helpers/app.ts';
import { cspViolations, openPage, SHOTS, unexpectedProblems } from '../helpers/browser.ts';
import { totpCode } from '../helpers/mfa.ts';
import { freePort } from '../helpers/net.ts';

test('the security page in Chromium: set up an authenticator app from its QR code’s key (codes by otplib), get the recovery codes once; sign in again with both steps, then add a passkey with the virtual authenticator; no CSP violation [RFC6238 §5.2] [WebAuthn §7.1]', async (t) => {
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const testApp = await buildTestApp(t, { env: { ISSUER: base } });
  await testApp.app.listen({ port, host: 'localhost' });
  const user = await createUser(testApp);
  const { page, problems, dialogs } = await openPage(t);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  const signInWithPassword = async () => {
    await page.goto(`${base}/account/login`);
    await page.locator('#username').fill(user.username);
    await page.locator('#password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  };
  await signInWithPassword();
  await page.getByRole('link', { name: 'Account security' }).click();
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  assert.equal(await page.locator('svg').count(), 1, 'the QR code, inline');
  const secret = (await page.locator('#totp-secret').textContent())!.trim();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  await page.screenshot({ path: `${SHOTS}/security-totp.png` });
  await page.locator('#code').fill(totpCode(secret, testApp.clock.now()));
  await page.getByRole('button', { name: 'Turn it on' }).click();
  const codes = await page.locator('#recovery-codes li').allTextContents();
  assert.equal(codes.length, 10);
  await page.getByRole('link', { name: 'Done' }).click();
  assert.match(await page.locator('body').innerText(), /On: sign-ins ask for a code/);
  // Signed in with a password only, and the account now has a factor: no changes until a fresh sign-in.
  assert.equal(await page.getByRole('button', { name: 'Add a passkey' }).count(), 0);

  await page.goto(`${base}/account/login`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  testApp.clock.advance(30_000); // the code that confirmed the app is spent
  await signInWithPassword();
  await page.locator('#code').fill(totpCode(secret, testApp.clock.now()));
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.goto(`${base}/account/security`);
  await page.locator('#passkey-name').fill('This laptop');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByText(/This laptop, added/).waitFor();
  await page.screenshot({ path: `${SHOTS}/security-passkey.png` });
  const [passkey] = await testApp.database.db.selectFrom('passkeys').selectAll().execute();
  assert.equal(passkey!.name, 'This laptop');

  assert.deepEqual(cspViolations(problems), []);
  assert.deepEqual(unexpectedProblems(problems), []);
  assert.deepEqual(dialogs, []);
});
