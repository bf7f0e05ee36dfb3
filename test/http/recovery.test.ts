import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeJwt } from 'jose';
import { simpleParser } from 'mailparser';
import {
  bearer,
  buildTestApp,
  captureLogs,
  createStorage,
  createUser,
  describeEachEngine,
  type EngineName,
  FORM,
  loginPair,
  refresh,
  type TestApp,
  type TestUser,
  uniqueName,
} from '../helpers/app.ts';
import { linkIn, startSmtp } from '../helpers/mail.ts';

type Smtp = Awaited<ReturnType<typeof startSmtp>>;

async function mailApp(
  t: Parameters<typeof startSmtp>[0],
  engine: EngineName,
  env: Record<string, string> = {},
  options: { url?: string; smtp?: Smtp } = {},
) {
  const smtp = options.smtp ?? (await startSmtp(t));
  const testApp = await buildTestApp(t, {
    engine,
    url: options.url,
    env: {
      SMTP_URL: smtp.url,
      APP_URL: 'https://blog.example.com',
      MAIL_FROM: 'inkgate <no-reply@example.com>',
      ...env,
    },
  });
  return { testApp, smtp };
}

const json = (
  testApp: TestApp,
  method: 'POST' | 'PATCH' | 'DELETE',
  url: string,
  payload?: object,
  token?: string,
) =>
  testApp.app.inject({
    method,
    url,
    ...(payload !== undefined && { payload }),
    headers: token === undefined ? {} : bearer(token),
  });

async function signup(testApp: TestApp) {
  const username = uniqueName('mail');
  const user: TestUser = {
    id: '',
    username,
    email: `${username.toLowerCase()}@example.com`,
    password: 'a passphrase to recover',
    role: 'user',
  };
  const response = await json(testApp, 'POST', '/users', {
    username,
    email: user.email,
    password: user.password,
  });
  return { response, user: { ...user, id: response.statusCode === 201 ? response.json().id : '' } };
}

async function events(testApp: TestApp, type: string) {
  return testApp.database.db.selectFrom('audit_events').selectAll().where('type', '=', type).execute();
}

const isInvalidLink = (response: {
  statusCode: number;
  headers: Record<string, unknown>;
  json(): unknown;
}) => {
  assert.equal(response.statusCode, 400);
  assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.deepEqual(response.json(), {
    type: 'about:blank',
    title: 'Bad Request',
    status: 400,
    detail: 'the link is invalid, expired or already used',
    code: 'invalid_link',
  });
};

describeEachEngine('email and account recovery', (engine) => {
  test('signup sends a verification link (text and HTML, APP_URL + page + token); confirming verifies the address, once [ASVS V6.4.1]', async (t) => {
    const { testApp, smtp } = await mailApp(t, engine);
    const { response, user } = await signup(testApp);
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().email_verified, false);

    const mail = await smtp.next(user.email);
    assert.equal(mail.subject, 'Confirm your email address');
    assert.equal(mail.from?.value[0]?.address, 'no-reply@example.com');
    const { url, token } = linkIn(mail);
    assert.equal(`${url.origin}${url.pathname}`, 'https://blog.example.com/account/verify-email');
    assert.match(token, /^[A-Za-z0-9_-]{43}$/, '256 bits, base64url');
    assert.ok(
      String(mail.html).includes(url.toString().replace(/&/g, '&amp;')),
      'the HTML part holds the link too',
    );
    // The token is stored only as its hash.
    const stored = await testApp.database.db.selectFrom('account_tokens').selectAll().execute();
    assert.equal(stored.length, 1);
    assert.notEqual(stored[0]?.token_hash, token);
    assert.ok(!JSON.stringify(stored).includes(token));

    const confirmed = await json(testApp, 'POST', '/email-verifications/confirm', { token });
    assert.equal(confirmed.statusCode, 204);
    const pair = await loginPair(testApp, user);
    const me = await testApp.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: bearer(pair.access_token),
    });
    assert.equal(me.json().email_verified, true);
    isInvalidLink(await json(testApp, 'POST', '/email-verifications/confirm', { token }));
    isInvalidLink(await json(testApp, 'POST', '/email-verifications/confirm', { token: 'not-a-token' }));
    assert.equal((await json(testApp, 'POST', '/email-verifications/confirm', {})).statusCode, 422);

    assert.equal((await events(testApp, 'email_verification_sent')).length, 1);
    const verified = await events(testApp, 'email_verified');
    assert.equal(verified.length, 1);
    assert.equal(verified[0]?.user_id, user.id);
  });

  test('POST /email-verifications: a fresh link voids the older one; expired links fail by the clock; none once verified [ASVS V6.4.1]', async (t) => {
    const { testApp, smtp } = await mailApp(t, engine);
    const { user } = await signup(testApp);
    const first = linkIn(await smtp.next(user.email)).token;
    const pair = await loginPair(testApp, user);
    const again = await json(testApp, 'POST', '/email-verifications', undefined, pair.access_token);
    assert.equal(again.statusCode, 202);
    assert.deepEqual(again.json(), { status: 'accepted' });
    const second = linkIn(await smtp.next(user.email)).token;
    isInvalidLink(await json(testApp, 'POST', '/email-verifications/confirm', { token: first }));

    testApp.clock.advance(24 * 3600_000 + 1000);
    isInvalidLink(await json(testApp, 'POST', '/email-verifications/confirm', { token: second }));
    const fresh = await json(testApp, 'POST', '/email-verifications', undefined, pair.access_token);
    assert.equal(fresh.statusCode, 401, 'the access token expired with the clock too');
    const later = await loginPair(testApp, user);
    await json(testApp, 'POST', '/email-verifications', undefined, later.access_token);
    const third = linkIn(await smtp.next(user.email)).token;
    assert.equal(
      (await json(testApp, 'POST', '/email-verifications/confirm', { token: third })).statusCode,
      204,
    );

    const verified = await json(testApp, 'POST', '/email-verifications', undefined, later.access_token);
    assert.equal(verified.statusCode, 202);
    await testApp.app.mailSettled();
    assert.equal(smtp.received.length, 0, 'nothing to verify: no message');
    assert.equal((await testApp.app.inject({ method: 'POST', url: '/email-verifications' })).statusCode, 401);
  });

  test('EMAIL_VERIFICATION=required: signup answers alike for a taken email, the owner is told; tokens carry only profile until verified [ASVS V6.3.8]', async (t) => {
    const { testApp, smtp } = await mailApp(t, engine, { EMAIL_VERIFICATION: 'required' });
    const fresh = await signup(testApp);
    assert.equal(fresh.response.statusCode, 202);
    const owner = fresh.user;
    const link = linkIn(await smtp.next(owner.email)).token;

    const taken = await json(testApp, 'POST', '/users', {
      username: uniqueName('other'),
      email: owner.email.toUpperCase(),
      password: 'another passphrase here',
    });
    const another = await signup(testApp);
    for (const response of [taken, another.response]) {
      assert.equal(response.statusCode, 202);
      assert.equal(response.body, fresh.response.body, 'byte for byte');
      assert.equal(response.body, '{"status":"accepted"}');
      assert.equal(response.headers.location, undefined);
      // RateLimit counts this address's requests, whatever the address in the body: not an oracle.
      const { date: _d, 'x-request-id': _r, ratelimit: _l, ...headers } = response.headers;
      const { date: _d2, 'x-request-id': _r2, ratelimit: _l2, ...freshHeaders } = fresh.response.headers;
      assert.deepEqual(headers, freshHeaders);
    }
    const warning = await smtp.next(owner.email);
    assert.equal(warning.subject, 'Someone tried to sign up with your address');
    assert.doesNotMatch(warning.text ?? '', /token=/);
    assert.equal(
      (await testApp.database.db.selectFrom('users').select('id').where('email', '=', owner.email).execute())
        .length,
      1,
    );
    // A taken username is no secret (posts show it): still 409.
    const sameName = await json(testApp, 'POST', '/users', {
      username: owner.username,
      email: 'someone.else@example.com',
      password: 'another passphrase here',
    });
    assert.equal(sameName.statusCode, 409);

    const unverified = await loginPair(testApp, owner);
    assert.equal(unverified.scope, 'profile');
    assert.equal(decodeJwt(unverified.access_token).scope, 'profile');
    const post = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: bearer(unverified.access_token),
      payload: { title: 'Hi', content: 'there' },
    });
    assert.equal(post.statusCode, 403);
    assert.equal(
      (await json(testApp, 'POST', '/email-verifications/confirm', { token: link })).statusCode,
      204,
    );
    // The session was granted what the role allows: the next refresh gives it back.
    const refreshed = await refresh(testApp, unverified.refresh_token);
    assert.equal(refreshed.json().scope, 'profile posts:write comments:write');
    const written = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: bearer(refreshed.json().access_token),
      payload: { title: 'Hi', content: 'there' },
    });
    assert.equal(written.statusCode, 201);

    // An address that becomes unverified (an admin changed it) takes posts:write from live tokens at once.
    const admin = await createUser(testApp, { role: 'admin' });
    await testApp.database.db
      .updateTable('users')
      .set({ email_verified: true })
      .where('id', '=', admin.id)
      .execute();
    const adminToken = (await loginPair(testApp, admin)).access_token;
    const { id: ownerId } = await testApp.database.db
      .selectFrom('users')
      .select('id')
      .where('username', '=', owner.username)
      .executeTakeFirstOrThrow();
    const moved = await json(
      testApp,
      'PATCH',
      `/users/${ownerId}`,
      { email: 'moved@example.com' },
      adminToken,
    );
    assert.equal(moved.statusCode, 200);
    assert.equal(moved.json().email_verified, false);
    const afterMove = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: bearer(refreshed.json().access_token),
      payload: { title: 'Hi', content: 'again' },
    });
    assert.equal(afterMove.statusCode, 403, 'the token issued before the change no longer writes');
    assert.equal(afterMove.json().code, 'insufficient_scope');
    const me = await testApp.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: bearer(refreshed.json().access_token),
    });
    assert.equal(me.statusCode, 200, 'profile stays');
  });

  test('password reset: the same answer for any address; the link sets the password once, ends every session and sends a notice [ASVS V6.4.3] [ASVS V6.3.8] [ASVS V7.4.3]', async (t) => {
    const { testApp, smtp } = await mailApp(t, engine);
    const user = await createUser(testApp);
    await smtp.next(user.email); // the signup's verification
    const session = await loginPair(testApp, user);

    const known = await json(testApp, 'POST', '/password-resets', { email: user.email.toUpperCase() });
    const unknown = await json(testApp, 'POST', '/password-resets', { email: 'nobody-at-all@example.com' });
    for (const response of [known, unknown]) {
      assert.equal(response.statusCode, 202);
      assert.equal(response.body, '{"status":"accepted"}');
    }
    // RateLimit counts this address's requests, whatever the address in the body: not an oracle.
    const { date: _a, 'x-request-id': _b, ratelimit: _l, ...knownHeaders } = known.headers;
    const { date: _c, 'x-request-id': _d, ratelimit: _l2, ...unknownHeaders } = unknown.headers;
    assert.deepEqual(knownHeaders, unknownHeaders);
    const mail = await smtp.next(user.email);
    assert.equal(mail.subject, 'Reset your password');
    const { url, token } = linkIn(mail);
    assert.equal(url.pathname, '/account/reset-password');
    await testApp.app.mailSettled();
    assert.equal(smtp.received.length, 0, 'nothing for an address without an account');
    const requested = await events(testApp, 'password_reset_requested');
    assert.deepEqual(
      requested.map((event) => event.user_id),
      [user.id],
    );

    // Signup's rules apply, and a refused password leaves the link good.
    const weak = await json(testApp, 'POST', '/password-resets/confirm', { token, new_password: 'password' });
    assert.equal(weak.statusCode, 422);
    assert.equal(weak.json().errors[0].path, '/new_password');
    const same = await json(testApp, 'POST', '/password-resets/confirm', {
      token,
      new_password: user.username,
    });
    assert.equal(same.statusCode, 422);

    const done = await json(testApp, 'POST', '/password-resets/confirm', {
      token,
      new_password: 'a brand new passphrase',
    });
    assert.equal(done.statusCode, 204);
    isInvalidLink(
      await json(testApp, 'POST', '/password-resets/confirm', { token, new_password: 'yet another one!' }),
    );

    // Every session ended; the old password is gone; the new one works.
    assert.equal((await refresh(testApp, session.refresh_token)).statusCode, 400);
    const me = await testApp.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: bearer(session.access_token),
    });
    assert.equal(me.statusCode, 401);
    await assert.rejects(loginPair(testApp, user));
    const renewed = await loginPair(testApp, { ...user, password: 'a brand new passphrase' });
    const after = await testApp.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: bearer(renewed.access_token),
    });
    assert.equal(after.json().email_verified, true, 'the link proved the address');
    const notice = await smtp.next(user.email);
    assert.equal(notice.subject, 'Your password was changed');
    assert.equal((await events(testApp, 'password_reset_completed')).length, 1);
    const ended = await events(testApp, 'sessions_revoked_all');
    assert.equal(JSON.parse(ended[0]!.details).reason, 'password_reset');
    // No link token or password in any stored event.
    const stored = JSON.stringify(await testApp.database.db.selectFrom('audit_events').selectAll().execute());
    for (const secret of [token, user.password, 'a brand new passphrase', session.refresh_token]) {
      assert.equal(stored.includes(secret), false);
    }
  });

  test('a reset link dies with its clock, with a newer link, and with a password change [ASVS V6.4.1]', async (t) => {
    const { testApp, smtp } = await mailApp(t, engine);
    const user = await createUser(testApp);
    await smtp.next(user.email);
    const ask = async () => {
      await json(testApp, 'POST', '/password-resets', { email: user.email });
      return linkIn(await smtp.next(user.email)).token;
    };
    const confirm = (token: string) =>
      json(testApp, 'POST', '/password-resets/confirm', { token, new_password: 'the chosen passphrase' });

    const expiring = await ask();
    testApp.clock.advance(30 * 60_000 + 1000);
    isInvalidLink(await confirm(expiring));

    const older = await ask();
    const newer = await ask();
    isInvalidLink(await confirm(older));

    const pair = await loginPair(testApp, user);
    const changed = await json(
      testApp,
      'POST',
      '/users/me/password',
      { current_password: user.password, new_password: 'changed by the owner' },
      pair.access_token,
    );
    assert.equal(changed.statusCode, 204);
    assert.equal((await smtp.next(user.email)).subject, 'Your password was changed');
    isInvalidLink(await confirm(newer));
  });

  test('PATCH /users/me email: needs the current password; the new address is unverified and verified by mail, the old one is told [ASVS V7.5.1]', async (t) => {
    const { testApp, smtp } = await mailApp(t, engine);
    const { user } = await signup(testApp);
    const signupLink = linkIn(await smtp.next(user.email)).token;
    const pair = await loginPair(testApp, user);
    const newEmail = `moved.${user.email}`;

    const missing = await json(testApp, 'PATCH', '/users/me', { email: newEmail }, pair.access_token);
    assert.equal(missing.statusCode, 422);
    assert.equal(missing.json().errors[0].path, '/current_password');
    const wrong = await json(
      testApp,
      'PATCH',
      '/users/me',
      { email: newEmail, current_password: 'not my password' },
      pair.access_token,
    );
    assert.equal(wrong.statusCode, 403);
    // A name alone needs no password.
    assert.equal(
      (await json(testApp, 'PATCH', '/users/me', { full_name: 'Moved' }, pair.access_token)).statusCode,
      200,
    );

    const moved = await json(
      testApp,
      'PATCH',
      '/users/me',
      { email: newEmail, current_password: user.password },
      pair.access_token,
    );
    assert.equal(moved.statusCode, 200);
    assert.equal(moved.json().email, newEmail);
    assert.equal(moved.json().email_verified, false);
    const notice = await smtp.next(user.email);
    assert.equal(notice.subject, 'Your email address was changed');
    assert.match(notice.text ?? '', /m\*+@example\.com/);
    assert.ok(!(notice.text ?? '').includes(newEmail), 'the new address is partly masked');
    const verification = await smtp.next(newEmail);
    isInvalidLink(await json(testApp, 'POST', '/email-verifications/confirm', { token: signupLink }));
    assert.equal(
      (await json(testApp, 'POST', '/email-verifications/confirm', { token: linkIn(verification).token }))
        .statusCode,
      204,
    );
  });

  test('DELETE /users/me: the password, then the account with its posts and sessions, and a notice; never the last admin [ASVS V7.4.2] [ASVS V7.5.1]', async (t) => {
    const { testApp, smtp } = await mailApp(t, engine);
    const user = await createUser(testApp);
    await smtp.next(user.email);
    const pair = await loginPair(testApp, user);
    await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: bearer(pair.access_token),
      payload: { title: 'Mine', content: 'soon gone' },
    });

    const deleteMe = (body: object, token?: string) => json(testApp, 'DELETE', '/users/me', body, token);
    assert.equal((await deleteMe({ password: 'wrong one' }, pair.access_token)).statusCode, 403);
    assert.equal((await deleteMe({}, pair.access_token)).statusCode, 422);
    assert.equal((await deleteMe({ password: user.password })).statusCode, 401);
    const deleted = await deleteMe({ password: user.password }, pair.access_token);
    assert.equal(deleted.statusCode, 204);
    const { db } = testApp.database;
    assert.equal((await db.selectFrom('users').select('id').where('id', '=', user.id).execute()).length, 0);
    assert.equal(
      (await db.selectFrom('posts').select('id').where('author_id', '=', user.id).execute()).length,
      0,
    );
    assert.equal(
      (await db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute()).length,
      0,
    );
    assert.equal((await refresh(testApp, pair.refresh_token)).statusCode, 400);
    assert.equal((await smtp.next(user.email)).subject, 'Your account was deleted');
    const recorded = await events(testApp, 'account_deleted');
    assert.equal(recorded[0]?.user_id, user.id);
    assert.equal(recorded[0]?.session_id, decodeJwt(pair.access_token).sid);

    const admin = await createUser(testApp, { role: 'admin' });
    const adminPair = await loginPair(testApp, admin);
    const refused = await deleteMe({ password: admin.password }, adminPair.access_token);
    assert.equal(refused.statusCode, 409);
    assert.equal((await db.selectFrom('users').select('id').where('id', '=', admin.id).execute()).length, 1);
  });

  test('an SMTP outage loses nothing: the request answers, the message is retried and delivered once SMTP is back', async (t) => {
    const { testApp, smtp } = await mailApp(t, engine);
    const user = await createUser(testApp);
    await smtp.next(user.email);
    await smtp.stop();

    const asked = await json(testApp, 'POST', '/password-resets', { email: user.email });
    assert.equal(asked.statusCode, 202);
    const { db } = testApp.database;
    await testApp.app.mailSettled(); // the reset was looked up and one delivery tried
    const pending = await db.selectFrom('mail_outbox').selectAll().where('sent_at', 'is', null).execute();
    assert.equal(pending.length, 1);
    assert.ok(pending[0]!.attempts >= 1, 'a delivery was tried');
    assert.ok(pending[0]!.last_error);

    await smtp.start();
    testApp.clock.advance(60_000); // past the retry backoff
    await testApp.app.mailSettled();
    const mail = await smtp.next(user.email, 10_000);
    assert.equal(mail.subject, 'Reset your password');
    const sent = await db
      .selectFrom('mail_outbox')
      .selectAll()
      .where('id', '=', pending[0]!.id)
      .executeTakeFirstOrThrow();
    assert.ok(sent.sent_at);
    assert.equal(sent.body, '', 'a sent message keeps no link');
    await testApp.app.mailSettled();
    assert.equal(smtp.received.length, 0, 'delivered once');
  });

  test('two instances sharing a database deliver each message once', async (t) => {
    const smtp = await startSmtp(t);
    const url = await createStorage(t, engine);
    const first = await mailApp(t, engine, {}, { url, smtp });
    const second = await mailApp(t, engine, {}, { url, smtp });
    const users = [];
    for (let i = 0; i < 6; i += 1) users.push(await createUser(i % 2 === 0 ? first.testApp : second.testApp));
    for (const user of users) await smtp.next(user.email);
    await Promise.all([first.testApp.app.mailSettled(), second.testApp.app.mailSettled()]);
    assert.equal(smtp.received.length, 0, 'no message twice');
  });

  test('RATE_LIMIT_MAIL: beyond the per-mailbox limit the answer stays 202 and nothing is sent; beyond the per-address limit, 429 [API6:2023]', async (t) => {
    const { testApp, smtp } = await mailApp(t, engine, { RATE_LIMIT_MAIL: '2' });
    const user = await createUser(testApp);
    await smtp.next(user.email);
    for (let i = 0; i < 3; i += 1) {
      const response = await json(testApp, 'POST', '/password-resets', { email: user.email });
      assert.equal(response.statusCode, 202);
      assert.equal(response.headers['ratelimit-policy'], '"mail";q=8;w=3600');
    }
    // The signup's verification counted too: one reset message, then nothing.
    await smtp.next(user.email);
    await testApp.app.mailSettled();
    assert.equal(smtp.received.length, 0, 'the second and third went nowhere');
    for (let i = 0; i < 5; i += 1)
      await json(testApp, 'POST', '/password-resets', { email: `x${i}@example.com` });
    const limited = await json(testApp, 'POST', '/password-resets', { email: user.email });
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.match(String(limited.headers.ratelimit), /^"mail";r=0;t=\d+$/);
  });

  test('EMAIL_VERIFICATION=required: a new address is pending until its link is used, and the answer is the same whether or not it is taken [ASVS V6.3.8]', async (t) => {
    const { testApp, smtp } = await mailApp(t, engine, { EMAIL_VERIFICATION: 'required' });
    const db = testApp.database.db;
    const verifiedUser = async () => {
      const { user } = await signup(testApp);
      await json(testApp, 'POST', '/email-verifications/confirm', {
        token: linkIn(await smtp.next(user.email)).token,
      });
      const { id } = await db
        .selectFrom('users')
        .select('id')
        .where('username', '=', user.username)
        .executeTakeFirstOrThrow();
      return { ...user, id };
    };
    const alice = await verifiedUser();
    const holder = await verifiedUser();
    const mallory = await verifiedUser();
    const change = async (who: typeof alice, email: string) => {
      const { access_token } = await loginPair(testApp, who);
      const response = await json(
        testApp,
        'PATCH',
        '/users/me',
        { email, current_password: who.password },
        access_token,
      );
      return { response, token: access_token };
    };
    const free = `new-${uniqueName()}@example.com`.toLowerCase();
    const asked = await change(alice, free);
    const probed = await change(mallory, holder.email.toUpperCase());
    for (const [{ response }, who, pending] of [
      [asked, alice, free],
      [probed, mallory, holder.email],
    ] as const) {
      assert.equal(response.statusCode, 200);
      assert.equal(response.json().email, who.email, 'the address stays the account’s');
      assert.equal(response.json().pending_email, pending);
      assert.equal(response.json().email_verified, true);
    }
    assert.deepEqual(Object.keys(asked.response.json()).sort(), Object.keys(probed.response.json()).sort());
    const {
      date: _a,
      'x-request-id': _b,
      ratelimit: _c,
      'content-length': _d,
      ...askedHeaders
    } = asked.response.headers;
    const {
      date: _e,
      'x-request-id': _f,
      ratelimit: _g,
      'content-length': _h,
      ...probedHeaders
    } = probed.response.headers;
    assert.deepEqual(askedHeaders, probedHeaders);
    // Mail: a notice to each current address; a link to the free address; the holder is told instead.
    assert.equal((await smtp.next(alice.email)).subject, 'A new email address was asked for your account');
    assert.equal((await smtp.next(mallory.email)).subject, 'A new email address was asked for your account');
    const warned = await smtp.next(holder.email);
    assert.equal(warned.subject, 'Someone tried to use your address');
    assert.doesNotMatch(warned.text ?? '', /token=/);
    const { token } = linkIn(await smtp.next(free));
    // Security events read alike for both callers.
    const eventTypes = async (tokenOf: string) =>
      (
        await testApp.app.inject({
          method: 'GET',
          url: '/users/me/security-events',
          headers: bearer(tokenOf),
        })
      )
        .json()
        .data.map((event: { type: string }) => event.type);
    assert.deepEqual(await eventTypes(asked.token), await eventTypes(probed.token));
    // Still writing posts: the account's address is verified and unchanged.
    const post = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: bearer(asked.token),
      payload: { title: 'Still', content: 'mine' },
    });
    assert.equal(post.statusCode, 201);

    // The link makes the pending address the account's.
    assert.equal((await json(testApp, 'POST', '/email-verifications/confirm', { token })).statusCode, 204);
    const row = await db.selectFrom('users').selectAll().where('id', '=', alice.id).executeTakeFirstOrThrow();
    assert.equal(row.email, free);
    assert.equal(row.pending_email, null);
    assert.equal(row.email_verified, true);
    const changed = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('type', '=', 'email_changed')
      .execute();
    assert.deepEqual(JSON.parse(changed[0]!.details), { from: alice.email, to: free });
    // Mallory's pending address never becomes hers: no link went to it.
    const still = await db
      .selectFrom('users')
      .select('email')
      .where('id', '=', mallory.id)
      .executeTakeFirstOrThrow();
    assert.equal(still.email, mallory.email);
  });

  test('switching the email back and forth sends no more than RATE_LIMIT_MAIL messages to a victim, nor from one account; email changes count in the address’s mail limit [API6:2023]', async (t) => {
    const { testApp, smtp } = await mailApp(t, engine, { RATE_LIMIT_MAIL: '3' });
    const user = await createUser(testApp);
    await smtp.next(user.email); // the signup's verification: 1 of the account's 3
    const { access_token: token } = await loginPair(testApp, user);
    const victim = `victim-${uniqueName()}@example.com`.toLowerCase();
    const change = (email: string) =>
      json(testApp, 'PATCH', '/users/me', { email, current_password: user.password }, token);
    for (let i = 0; i < 5; i += 1) {
      for (const email of [victim, user.email]) {
        const changed = await change(email);
        assert.equal(changed.statusCode, 200, changed.body);
        assert.equal(changed.headers['ratelimit-policy'], '"mail";q=12;w=3600');
      }
    }
    // Ten changes: before, twenty messages (a link to the new address, a notice to the old). Now the
    // account's three: the signup's, then the first change's link and notice.
    const written = await testApp.database.db.selectFrom('mail_outbox').select('recipient').execute();
    assert.equal(written.length, 3, JSON.stringify(written));
    assert.equal(written.filter((row) => row.recipient === victim).length, 1, 'one message to the victim');
  });

  test('email changes count in the client address’s mail limit: probing which addresses are taken is bounded [API6:2023]', async (t) => {
    const { testApp } = await mailApp(t, engine, { RATE_LIMIT_MAIL: '1' });
    const user = await createUser(testApp);
    const { access_token: token } = await loginPair(testApp, user);
    const probe = (i: number) =>
      json(
        testApp,
        'PATCH',
        '/users/me',
        { email: `probe${i}@example.com`, current_password: user.password },
        token,
      );
    for (let i = 0; i < 4; i += 1) assert.equal((await probe(i)).statusCode, 200);
    const refused = await probe(4);
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().code, 'rate_limited');
    // A change without an email is not counted.
    const renamed = await json(testApp, 'PATCH', '/users/me', { full_name: 'Ada' }, token);
    assert.equal(renamed.statusCode, 200);
    assert.equal(renamed.headers['ratelimit-policy'], undefined);
  });

  test('the pages: verify-email shows a button (GET changes nothing) whose POST confirms, reset-password shows a form; strict CSP, no referrer, no store [ASVS V6.2.6]', async (t) => {
    const { testApp, smtp } = await mailApp(t, engine);
    const { user } = await signup(testApp);
    const { token } = linkIn(await smtp.next(user.email));
    const verified = async () =>
      (
        await testApp.database.db
          .selectFrom('users')
          .select('email_verified')
          .where('id', '=', user.id)
          .executeTakeFirstOrThrow()
      ).email_verified;
    // A mail scanner or a prefetcher opens the link, twice: nothing is spent, nothing confirmed.
    for (let i = 0; i < 2; i += 1) {
      const opened = await testApp.app.inject({ method: 'GET', url: `/account/verify-email?token=${token}` });
      assert.equal(opened.statusCode, 200);
      assert.match(opened.body, /<form method="post" action="\/account\/verify-email">/);
      assert.match(opened.body, new RegExp(`<input type="hidden" name="token" value="${token}">`));
      assert.match(opened.body, /<button type="submit">Confirm my address<\/button>/);
    }
    assert.equal(await verified(), false, 'GET changed nothing');
    const page = await testApp.app.inject({
      method: 'POST',
      url: '/account/verify-email',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token }).toString(),
    });
    assert.equal(page.statusCode, 200);
    assert.equal(await verified(), true, 'the button confirmed');
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(
      String(page.headers['content-security-policy']),
      /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self'/,
    );
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(page.body, /is confirmed/);
    assert.doesNotMatch(page.body, /<script/);
    const again = await testApp.app.inject({ method: 'GET', url: `/account/verify-email?token=${token}` });
    assert.equal(again.statusCode, 400);
    assert.match(again.body, /does not work/);
    const twice = await testApp.app.inject({
      method: 'POST',
      url: '/account/verify-email',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token }).toString(),
    });
    assert.equal(twice.statusCode, 400);
    assert.match(twice.body, /does not work/);
    // Values are escaped in every page: a token that is markup is text.
    const hostile = await testApp.app.inject({
      method: 'POST',
      url: '/account/verify-email',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token: '"><script>alert(1)</script>' }).toString(),
    });
    assert.equal(hostile.statusCode, 400);
    assert.doesNotMatch(hostile.body, /<script/);

    await json(testApp, 'POST', '/password-resets', { email: user.email });
    const reset = linkIn(await smtp.next(user.email)).token;
    const form = await testApp.app.inject({ method: 'GET', url: `/account/reset-password?token=${reset}` });
    assert.equal(form.statusCode, 200);
    assert.match(form.body, /<form method="post" action="\/account\/reset-password">/);
    // Masked fields a password manager fills in (ASVS V6.2.6), and no script that could stop it.
    assert.match(
      form.body,
      /<input id="new_password" name="new_password" type="password" autocomplete="new-password"/,
    );
    assert.doesNotMatch(form.body, /<script/);
    assert.equal(form.headers['referrer-policy'], 'no-referrer');
    assert.equal(
      (await testApp.app.inject({ method: 'GET', url: '/account/reset-password?token=nope' })).statusCode,
      400,
    );
    const mismatch = await testApp.app.inject({
      method: 'POST',
      url: '/account/reset-password',
      headers: FORM,
      payload: new URLSearchParams({
        token: reset,
        new_password: 'one new passphrase',
        new_password_again: 'another',
      }).toString(),
    });
    assert.equal(mismatch.statusCode, 422);
    assert.match(mismatch.body, /The two passwords differ/);
    const posted = await testApp.app.inject({
      method: 'POST',
      url: '/account/reset-password',
      headers: FORM,
      payload: new URLSearchParams({
        token: reset,
        new_password: 'one new passphrase',
        new_password_again: 'one new passphrase',
      }).toString(),
    });
    assert.equal(posted.statusCode, 200);
    assert.match(posted.body, /Password changed/);
  });
});

test('without SMTP_URL each message is an .eml file in MAIL_DIR (folder 0700, file 0600), its path logged, its link working', async (t) => {
  const { logger, lines } = captureLogs();
  const root = mkdtempSync(join(tmpdir(), 'inkgate-maildir-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'not', 'there', 'yet');
  const testApp = await buildTestApp(t, { logger, env: { MAIL_DIR: dir } });
  const user = await createUser(testApp);
  await testApp.app.mailSettled();
  const files = existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.eml')) : [];
  assert.equal(files.length, 1);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, files[0]!)).mode & 0o777, 0o600);
  const mail = await simpleParser(readFileSync(join(dir, files[0]!)));
  assert.equal(mail.subject, 'Confirm your email address');
  assert.equal(mail.to && !Array.isArray(mail.to) ? mail.to.value[0]?.address : undefined, user.email);
  const { url, token } = linkIn(mail);
  assert.equal(url.origin, 'http://inkgate.test', 'APP_URL defaults to ISSUER');
  const sent = lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'mail sent');
  assert.equal(sent.to, join(dir, files[0]!));
  const confirmed = await testApp.app.inject({
    method: 'POST',
    url: '/email-verifications/confirm',
    payload: { token },
  });
  assert.equal(confirmed.statusCode, 204);
});

test('a page whose request fails stays a problem document, not HTML-labelled JSON', async (t) => {
  const testApp = await buildTestApp(t);
  await testApp.database.close();
  const response = await testApp.app.inject({
    method: 'GET',
    url: `/account/reset-password?token=${'A'.repeat(43)}`,
  });
  assert.ok(response.statusCode >= 500, String(response.statusCode));
  assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(response.json().status, response.statusCode);
});
