import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJwt } from 'jose';
import {
  bearer,
  buildTestApp,
  createUser,
  describeEachEngine,
  login,
  refresh,
  signedIn,
  type TestApp,
  tokenFor,
} from '../helpers/app.ts';
import { hiddenFields, injectBrowser, signInAtPage } from '../helpers/browser-flow.ts';
import { resetByMail, startSmtp } from '../helpers/mail.ts';
import { enrolTotp, signInWithSecondFactor, totpCode } from '../helpers/mfa.ts';

const KEY_ENCRYPTION_KEY = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
/** Six groups of four from Crockford's base32 (no i, l, o, u): 120 random bits. */
const RECOVERY_CODE = /^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){5}$/;

const call = (
  testApp: TestApp,
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH',
  url: string,
  token: string,
  payload?: object,
) => testApp.app.inject({ method, url, headers: bearer(token), ...(payload !== undefined && { payload }) });

const events = (testApp: TestApp, type: string) =>
  testApp.database.db.selectFrom('audit_events').selectAll().where('type', '=', type).execute();

/** RFC 9470 §3: the challenge a step-up route answers. */
function stepUpRequired(
  response: { statusCode: number; headers: Record<string, unknown>; json(): { code: string } },
  maxAge?: number,
) {
  assert.equal(response.statusCode, 401);
  assert.equal(response.json().code, 'insufficient_user_authentication');
  const challenge = String(response.headers['www-authenticate']);
  assert.match(
    challenge,
    /^Bearer realm="inkgate", error="insufficient_user_authentication", error_description="[^"]+", acr_values="urn:inkgate:acr:mfa"/,
  );
  if (maxAge === undefined) assert.doesNotMatch(challenge, /max_age/);
  else assert.match(challenge, new RegExp(`, max_age=${maxAge}$`));
}

describeEachEngine('TOTP and recovery codes', (engine) => {
  test('enrol: a secret and otpauth URI, inactive until a code from it (422 /code for a wrong one); then ten recovery codes, once; the secret sealed at rest [RFC6238 §5.2] [ASVS V6.5.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { KEY_ENCRYPTION_KEY } });
    const { user, token } = await signedIn(testApp);
    const started = await call(testApp, 'POST', '/users/me/mfa/totp', token);
    assert.equal(started.statusCode, 201);
    const { secret, otpauth_uri } = started.json();
    assert.match(secret, /^[A-Z2-7]{32}$/, '160 bits, base32');
    const uri = new URL(otpauth_uri);
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.host, 'totp');
    assert.equal(uri.searchParams.get('secret'), secret);
    assert.equal(uri.searchParams.get('issuer'), 'inkgate.test');
    assert.equal(uri.searchParams.get('digits'), '6');
    assert.equal(uri.searchParams.get('period'), '30');
    assert.deepEqual((await call(testApp, 'GET', '/users/me', token)).json().mfa, {
      totp: false,
      passkeys: 0,
    });
    const [row] = await testApp.database.db.selectFrom('mfa_totp').selectAll().execute();
    assert.match(row!.secret_sealed, /^enc:v1:/);
    assert.ok(!row!.secret_sealed.includes(secret));

    const now = testApp.clock.now();
    const wrongCode = totpCode(secret, new Date(now.getTime() + 300_000));
    const wrong = await call(testApp, 'POST', '/users/me/mfa/totp/confirm', token, { code: wrongCode });
    assert.equal(wrong.statusCode, 422);
    assert.equal(wrong.json().errors[0].path, '/code');
    const confirmed = await call(testApp, 'POST', '/users/me/mfa/totp/confirm', token, {
      code: totpCode(secret, now),
    });
    assert.equal(confirmed.statusCode, 200);
    const codes = confirmed.json().recovery_codes as string[];
    assert.equal(codes.length, 10);
    for (const code of codes) assert.match(code, RECOVERY_CODE);
    assert.equal(new Set(codes).size, 10);
    const stored = await testApp.database.db.selectFrom('mfa_recovery_codes').selectAll().execute();
    assert.equal(stored.length, 10);
    for (const code of codes)
      assert.ok(!JSON.stringify(stored).includes(code.replaceAll('-', '')), 'only hashes');

    assert.deepEqual((await call(testApp, 'GET', '/users/me', token)).json().mfa, {
      totp: true,
      passkeys: 0,
    });
    assert.deepEqual((await call(testApp, 'GET', '/users/me/mfa', token)).json(), {
      totp: true,
      passkeys: 0,
      recovery_codes_left: 10,
      required: false,
    });
    const [enrolled] = await events(testApp, 'mfa_enrolled');
    assert.equal(enrolled!.user_id, user.id);
    assert.deepEqual(JSON.parse(enrolled!.details), { factor: 'totp' });
    const everything = JSON.stringify(
      await testApp.database.db.selectFrom('audit_events').selectAll().execute(),
    );
    assert.ok(
      !everything.includes(secret) && !codes.some((code) => everything.includes(code)),
      'no secret or code in the log',
    );
    // Nothing is waiting any more: a second confirmation is 409.
    const again = await call(testApp, 'POST', '/users/me/mfa/totp/confirm', token, {
      code: totpCode(secret, now),
    });
    assert.equal(again.statusCode, 409);
  });

  test('the password grant refuses an account with a second factor after a right password, and says where to go; a wrong password gets the usual answer', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    await enrolTotp(testApp, user);
    const refused = await login(testApp, user);
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.json().error, 'invalid_grant');
    assert.match(refused.json().error_description, /second factor.*authorization code flow/);
    const wrong = await login(testApp, { ...user, password: 'not the password' });
    assert.equal(wrong.statusCode, 400);
    assert.doesNotMatch(wrong.json().error_description, /second factor/);
  });

  test('the login page asks for the code after the password; the tokens say amr pwd otp mfa and acr mfa, kept by a refresh [RFC8176 §2] [ASVS V6.5.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const { secret } = await enrolTotp(testApp, user);
    const { claims, pair } = await signInWithSecondFactor(
      testApp,
      user,
      totpCode(secret, testApp.clock.now()),
    );
    assert.deepEqual(claims!.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(claims!.acr, 'urn:inkgate:acr:mfa');
    assert.equal(claims!.auth_time, Math.floor(testApp.clock.now().getTime() / 1000));
    const refreshed = await refresh(testApp, pair!.refresh_token);
    assert.equal(refreshed.statusCode, 200);
    const again = decodeJwt(refreshed.json().access_token);
    assert.deepEqual(again.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(again.acr, 'urn:inkgate:acr:mfa');
    assert.equal(again.auth_time, claims!.auth_time);
    const [succeeded] = (await events(testApp, 'login_succeeded')).filter(
      (event) => JSON.parse(event.details).kind === 'browser',
    );
    assert.deepEqual(JSON.parse(succeeded!.details).amr, ['pwd', 'otp', 'mfa']);
    // A password-only token says so.
    const plain = await createUser(testApp);
    const passwordOnly = decodeJwt(await tokenFor(testApp, plain));
    assert.deepEqual(passwordOnly.amr, ['pwd']);
    assert.equal(passwordOnly.acr, 'urn:inkgate:acr:pwd');
  });

  test('a TOTP code is accepted once: the same code again, and a code of an earlier step, are refused; one step of drift either way is accepted [RFC6238 §5.2] [RFC6238 §6]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const { secret } = await enrolTotp(testApp, user);
    const now = () => testApp.clock.now();
    const at = (offset: number) => new Date(now().getTime() + offset);
    const first = totpCode(secret, now());
    assert.ok((await signInWithSecondFactor(testApp, user, first)).pair, 'the current code');
    const replay = await signInWithSecondFactor(testApp, user, first);
    assert.equal(replay.pair, undefined, 'the same code again');
    assert.match(String(replay.submitted.headers.location), /failed=code/);
    testApp.clock.advance(30_000);
    const earlier = await signInWithSecondFactor(testApp, user, totpCode(secret, at(-60_000)));
    assert.equal(earlier.pair, undefined, 'two steps back: outside the window');
    assert.ok(
      (await signInWithSecondFactor(testApp, user, totpCode(secret, at(30_000)))).pair,
      'a step ahead',
    );
    const before = await signInWithSecondFactor(testApp, user, totpCode(secret, now()));
    assert.equal(before.pair, undefined, 'a step before the one accepted last');
    // Three steps on, a code of the step before now: later than the last accepted, so it is taken.
    testApp.clock.advance(90_000);
    assert.ok(
      (await signInWithSecondFactor(testApp, user, totpCode(secret, at(-30_000)))).pair,
      'a step behind',
    );
  });

  test('one code sent twice at once by two browsers: exactly one signs in [RFC6238 §5.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const { secret } = await enrolTotp(testApp, user);
    const code = totpCode(secret, testApp.clock.now());
    const results = await Promise.all([
      signInWithSecondFactor(testApp, user, code),
      signInWithSecondFactor(testApp, user, code),
    ]);
    assert.equal(results.filter((result) => result.pair !== undefined).length, 1);
  });

  test('five wrong codes end the attempt (the password is asked again); each is an mfa_failed event and counts in the login limits', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const { secret } = await enrolTotp(testApp, user);
    const browser = injectBrowser(testApp);
    const wrong = totpCode(secret, new Date(testApp.clock.now().getTime() + 600_000));
    const first = await signInWithSecondFactor(testApp, user, wrong, browser);
    assert.match(String(first.submitted.headers.location), /^\/account\/login\/second-factor\?.*failed=code/);
    let last = first.submitted;
    for (let i = 2; i <= 5; i += 1) {
      const form = await browser.get(String(last.headers.location));
      assert.equal(form.statusCode, 200, `form ${i}`);
      last = await browser.post('/account/login/second-factor', { ...hiddenFields(form.body), code: wrong });
    }
    assert.match(String(last.headers.location), /^\/account\/login\?.*failed=second_factor/);
    assert.ok(!browser.cookies.has('inkgate_pending'), 'the pending sign-in is gone');
    const page = await browser.get(String(last.headers.location));
    assert.match(page.body, /Too many wrong codes: sign in again\./);
    // mfa_failed is stored just after its answer, in a batch (audit/trail.ts).
    for (let i = 0; i < 100 && (await events(testApp, 'mfa_failed')).length < 5; i += 1)
      await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal((await events(testApp, 'mfa_failed')).length, 5);
    // The five failures count for the account here: the sixth try, with the right password, waits.
    const blocked = await login(testApp, { ...user, password: 'wrong again' });
    assert.equal(blocked.statusCode, 429);
  });

  test('a recovery code signs in once (any case, spaces or hyphens); the second use is refused; renewing voids the old set; each is audited [ASVS V6.5.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const { recoveryCodes } = await enrolTotp(testApp, user);
    const typed = ` ${recoveryCodes[0]!.toUpperCase().replaceAll('-', ' ')} `;
    const used = await signInWithSecondFactor(testApp, user, typed);
    assert.ok(used.pair);
    assert.deepEqual(used.claims!.amr, ['pwd', 'otp', 'mfa']);
    assert.equal((await signInWithSecondFactor(testApp, user, recoveryCodes[0]!)).pair, undefined);
    const token = used.pair!.access_token;
    assert.equal((await call(testApp, 'GET', '/users/me/mfa', token)).json().recovery_codes_left, 9);
    assert.equal((await events(testApp, 'recovery_code_used')).length, 1);

    const renewed = await call(testApp, 'POST', '/users/me/mfa/recovery-codes', token);
    assert.equal(renewed.statusCode, 200);
    const fresh = renewed.json().recovery_codes as string[];
    assert.equal(fresh.length, 10);
    assert.equal(
      (await signInWithSecondFactor(testApp, user, recoveryCodes[1]!)).pair,
      undefined,
      'the old set is void',
    );
    assert.ok((await signInWithSecondFactor(testApp, user, fresh[0]!)).pair);
    assert.equal((await events(testApp, 'recovery_codes_renewed')).length, 2, 'at enrolment and now');
  });

  test('step-up: with a second factor, the marked routes need a two-factor sign-in within STEP_UP_MAX_AGE; the RFC 9470 challenge names acr_values and max_age [RFC9470 §3] [RFC9470 §4] [ASVS V7.5.3]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const { secret, passwordToken } = await enrolTotp(testApp, user);
    const marked: Array<[string, 'POST' | 'DELETE' | 'PATCH', string, object | undefined]> = [
      ['make a personal token', 'POST', '/users/me/tokens', { name: 'x', scopes: ['profile'] }],
      ['start another app', 'POST', '/users/me/mfa/totp', undefined],
      ['remove the app', 'DELETE', '/users/me/mfa/totp', undefined],
      ['renew recovery codes', 'POST', '/users/me/mfa/recovery-codes', undefined],
      [
        'change the password',
        'POST',
        '/users/me/password',
        { current_password: user.password, new_password: 'another passphrase here' },
      ],
      [
        'change the email',
        'PATCH',
        '/users/me',
        { email: 'new@example.com', current_password: user.password },
      ],
      ['delete the account', 'DELETE', '/users/me', { password: user.password }],
    ];
    for (const [what, method, url, payload] of marked) {
      const response = await call(testApp, method, url, passwordToken, payload);
      stepUpRequired(response, 600);
      assert.ok(true, what);
    }
    // A change of name is no step-up route.
    assert.equal(
      (await call(testApp, 'PATCH', '/users/me', passwordToken, { full_name: 'Ada' })).statusCode,
      200,
    );

    const fresh = (await signInWithSecondFactor(testApp, user, totpCode(secret, testApp.clock.now()))).pair!
      .access_token;
    const made = await call(testApp, 'POST', '/users/me/tokens', fresh, { name: 'x', scopes: ['profile'] });
    assert.equal(made.statusCode, 201, made.body);
    testApp.clock.advance(601_000);
    stepUpRequired(await call(testApp, 'POST', '/users/me/mfa/recovery-codes', fresh), 600);
    assert.equal(
      (await call(testApp, 'GET', '/users/me', fresh)).statusCode,
      200,
      'the token itself still works',
    );
  });

  test('admin routes need acr mfa from an admin with a second factor (no max_age); an admin resets a user’s factors: sessions end, audited, 404 for no user', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const admin = await createUser(testApp, { role: 'admin' });
    const { secret, passwordToken } = await enrolTotp(testApp, admin);
    stepUpRequired(await call(testApp, 'GET', '/users', passwordToken));
    const adminToken = (await signInWithSecondFactor(testApp, admin, totpCode(secret, testApp.clock.now())))
      .pair!.access_token;
    assert.equal((await call(testApp, 'GET', '/users', adminToken)).statusCode, 200);

    const user = await createUser(testApp);
    const { secret: userSecret } = await enrolTotp(testApp, user);
    const userSession = (
      await signInWithSecondFactor(testApp, user, totpCode(userSecret, testApp.clock.now()))
    ).pair!;
    const reset = await call(testApp, 'DELETE', `/users/${user.id}/mfa`, adminToken);
    assert.equal(reset.statusCode, 204);
    assert.equal(
      (await call(testApp, 'GET', '/users/me', userSession.access_token)).statusCode,
      401,
      'sessions end',
    );
    const [event] = await events(testApp, 'mfa_reset');
    assert.equal(event!.user_id, user.id);
    assert.equal(event!.actor_id, admin.id);
    assert.equal((await login(testApp, user)).statusCode, 200, 'a password sign-in again');
    for (const id of ['00000000-0000-7000-8000-000000000000', 'nope']) {
      const missing = await call(testApp, 'DELETE', `/users/${id}/mfa`, adminToken);
      assert.equal(missing.statusCode, 404);
    }
    const byUser = await call(testApp, 'DELETE', `/users/${admin.id}/mfa`, await tokenFor(testApp, user));
    assert.equal(byUser.statusCode, 403);
  });

  test('removing the app (step-up) takes the recovery codes with the last factor; MFA_REQUIRED=all leaves a user without a factor only profile, until they enrol', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { MFA_REQUIRED: 'all' } });
    const user = await createUser(testApp);
    const token = await tokenFor(testApp, user);
    assert.equal((await call(testApp, 'GET', '/users/me/mfa', token)).json().required, true);
    const post = await call(testApp, 'POST', '/posts', token, { title: 'Hi', content: 'Hello.' });
    assert.equal(post.statusCode, 403);
    assert.equal(post.json().code, 'insufficient_scope');
    const { secret } = await enrolTotp(testApp, user);
    const fresh = (await signInWithSecondFactor(testApp, user, totpCode(secret, testApp.clock.now()))).pair!
      .access_token;
    assert.equal(
      (await call(testApp, 'POST', '/posts', fresh, { title: 'Hi', content: 'Hello.' })).statusCode,
      201,
    );
    assert.equal((await call(testApp, 'DELETE', '/users/me/mfa/totp', fresh)).statusCode, 204);
    assert.equal((await call(testApp, 'DELETE', '/users/me/mfa/totp', fresh)).statusCode, 404);
    assert.deepEqual((await call(testApp, 'GET', '/users/me/mfa', fresh)).json(), {
      totp: false,
      passkeys: 0,
      recovery_codes_left: 0,
      required: true,
    });
    assert.equal(
      (await call(testApp, 'POST', '/posts', fresh, { title: 'Hi', content: 'Hello.' })).statusCode,
      403,
    );
    assert.equal((await events(testApp, 'mfa_removed')).length, 1);
  });

  test('a browser signed in with a password before its account got a second factor is asked for both steps again at /authorize [RFC9470 §4]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const browser = injectBrowser(testApp);
    assert.equal((await signInAtPage(browser, user)).statusCode, 303);
    const { secret } = await enrolTotp(testApp, user);
    const signedInAgain = await signInWithSecondFactor(
      testApp,
      user,
      totpCode(secret, testApp.clock.now()),
      browser,
    );
    assert.equal(signedInAgain.claims!.acr, 'urn:inkgate:acr:mfa');
  });

  test('the metadata names both acr values', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const metadata = await testApp.app.inject({
      method: 'GET',
      url: '/.well-known/oauth-authorization-server',
    });
    assert.deepEqual(metadata.json().acr_values_supported, ['urn:inkgate:acr:pwd', 'urn:inkgate:acr:mfa']);
  });
});

describeEachEngine('the account security page', (engine) => {
  test('only for a signed-in browser, only its own forms; with a second factor, changes only after a recent two-factor sign-in', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const stranger = injectBrowser(testApp);
    const notSignedIn = await stranger.get('/account/security');
    assert.equal(notSignedIn.statusCode, 303);
    assert.equal(notSignedIn.headers.location, '/account/login');

    const browser = injectBrowser(testApp);
    await signInAtPage(browser, user);
    const page = await browser.get('/account/security');
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'; connect-src 'self';/);
    const csrf = hiddenFields(page.body, '/account/security/totp').csrf!;
    // Another browser's token, or none: 403, nothing started.
    const other = injectBrowser(testApp);
    await signInAtPage(other, user);
    assert.equal((await other.post('/account/security/totp', { csrf })).statusCode, 403);
    assert.equal((await browser.post('/account/security/totp', {})).statusCode, 403);
    assert.equal(
      await testApp.database.db
        .selectFrom('mfa_totp')
        .selectAll()
        .execute()
        .then((rows) => rows.length),
      0,
    );

    const started = await browser.post('/account/security/totp', { csrf });
    assert.equal(started.statusCode, 303);
    const withQr = await browser.get('/account/security');
    const secret = /<code id="totp-secret">([A-Z2-7]+)<\/code>/.exec(withQr.body)![1]!;
    const wrong = await browser.post('/account/security/totp/confirm', { csrf, code: '000000' });
    assert.equal(wrong.headers.location, '/account/security?failed=code');
    const confirmed = await browser.post('/account/security/totp/confirm', {
      csrf,
      code: totpCode(secret, testApp.clock.now()),
    });
    assert.equal(confirmed.statusCode, 200, 'the codes, shown this once');
    assert.equal(String(confirmed.headers['cache-control']), 'no-store');
    assert.equal([...confirmed.body.matchAll(/<li><code>/g)].length, 10);

    // This browser signed in with a password alone: the account now has a factor, so no more changes.
    const stale = await browser.post('/account/security/recovery-codes', { csrf });
    assert.equal(stale.headers.location, '/account/security?failed=stale');
    const removed = await browser.post('/account/security/totp/remove', { csrf });
    assert.equal(removed.headers.location, '/account/security?failed=stale');
    assert.equal((await testApp.database.db.selectFrom('mfa_totp').selectAll().execute()).length, 1);
  });
});

describeEachEngine('second factors: notices and resets', (engine) => {
  test('each change is mailed (no code or secret in the message); a password reset removes no factor', async (t) => {
    const smtp = await startSmtp(t);
    const testApp = await buildTestApp(t, {
      engine,
      env: { SMTP_URL: smtp.url, APP_URL: 'https://blog.example.com' },
    });
    const user = await createUser(testApp);
    await smtp.next(user.email); // the signup's verification
    const { secret, recoveryCodes } = await enrolTotp(testApp, user);
    const added = await smtp.next(user.email);
    assert.equal(added.subject, 'An authenticator app was added to your account');
    const text = added.text ?? '';
    assert.ok(!text.includes(secret) && !recoveryCodes.some((code) => text.includes(code)));
    assert.ok((await signInWithSecondFactor(testApp, user, recoveryCodes[0]!)).pair);
    assert.equal((await smtp.next(user.email)).subject, 'A recovery code was used to sign in');

    await resetByMail(testApp, smtp, user.email, 'a brand new passphrase');
    const renewed = { ...user, password: 'a brand new passphrase' };
    assert.equal((await login(testApp, renewed)).json().error, 'invalid_grant', 'still two steps');
    const after = await signInWithSecondFactor(testApp, renewed, totpCode(secret, testApp.clock.now()));
    assert.ok(after.pair, 'the app still gives the second step');
  });
});
