import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { generateSync } from 'otplib';
import { bearer, type TestApp, type TestUser, tokenFor } from './app.ts';
import { authorizeUrl, hiddenFields, injectBrowser, pkce, redeem } from './browser-flow.ts';

/** A TOTP code for `at`, computed by otplib: a second implementation, not inkgate's own. */
export function totpCode(secret: string, at: Date): string {
  return generateSync({ secret, epoch: Math.floor(at.getTime() / 1000) });
}

/** Sets up an authenticator app for `user` with a password token; answers its secret and recovery codes. */
export async function enrolTotp(testApp: TestApp, user: TestUser) {
  const token = await tokenFor(testApp, user);
  const started = await testApp.app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp',
    headers: bearer(token),
  });
  assert.equal(started.statusCode, 201, started.body);
  const { secret } = started.json() as { secret: string };
  const confirmed = await testApp.app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp/confirm',
    headers: bearer(token),
    payload: { code: totpCode(secret, testApp.clock.now()) },
  });
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  // The confirming code is spent: later sign-ins use the next step's.
  testApp.clock.advance(30_000);
  return { secret, recoveryCodes: confirmed.json().recovery_codes as string[], passwordToken: token };
}

/**
 * The code flow of the first-party client through the login page's two steps: password, then
 * `code` (a TOTP or recovery code). Answers the last response and, when it signed in, the tokens.
 */
export async function signInWithSecondFactor(
  testApp: TestApp,
  user: TestUser,
  code: string | (() => string),
  browser = injectBrowser(testApp),
  /** More of the authorization request: acr_values, max_age, prompt. */
  fields: Record<string, string> = {},
) {
  const { verifier, challenge } = pkce();
  const loginPage = await browser.get(
    authorizeUrl({ client_id: 'inkgate', code_challenge: challenge, ...fields }),
  );
  assert.equal(loginPage.statusCode, 200, loginPage.body);
  const password = await browser.post('/account/login', {
    ...hiddenFields(loginPage.body),
    username: user.username,
    password: user.password,
  });
  assert.equal(password.statusCode, 303);
  assert.match(String(password.headers.location), /^\/account\/login\/second-factor\?/);
  const form = await browser.get(password.headers.location as string);
  assert.equal(form.statusCode, 200, form.body);
  const submitted = await browser.post('/account/login/second-factor', {
    ...hiddenFields(form.body),
    code: typeof code === 'string' ? code : code(),
  });
  assert.equal(submitted.statusCode, 303);
  const location = String(submitted.headers.location);
  if (!location.startsWith('/authorize?')) return { submitted, browser };
  const back = await browser.get(location);
  assert.equal(back.statusCode, 303, back.body);
  const callback = new URL(String(back.headers.location));
  const tokens = await redeem(testApp, {
    code: callback.searchParams.get('code')!,
    code_verifier: verifier,
    client_id: 'inkgate',
  });
  assert.equal(tokens.statusCode, 200, tokens.body);
  const pair = tokens.json() as { access_token: string; refresh_token: string };
  return { submitted, browser, pair, claims: decodeJwt(pair.access_token) };
}
