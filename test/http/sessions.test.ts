import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJwt } from 'jose';
import { createManualClock } from '../../src/clock.ts';
import {
  bearer,
  buildTestApp,
  captureLogs,
  createStorage,
  createUser,
  describeEachEngine,
  FORM,
  loginPair,
  refresh,
  signedIn,
  type TestApp,
  twoInstances,
  unreadableFeed,
} from '../helpers/app.ts';

const DAY = 86_400_000;

async function me(testApp: TestApp, accessToken: string) {
  return testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(accessToken) });
}

function revokeToken(testApp: TestApp, form: Record<string, string>) {
  return testApp.app.inject({
    method: 'POST',
    url: '/token/revoke',
    headers: FORM,
    payload: new URLSearchParams(form).toString(),
  });
}

async function refreshTokenRows(testApp: TestApp, sessionId: string) {
  return testApp.database.db
    .selectFrom('refresh_tokens')
    .selectAll()
    .where('session_id', '=', sessionId)
    .execute();
}

describeEachEngine('sessions', (engine) => {
  test('login: a session with a refresh token stored only as its SHA-256; the access token carries its sid [ASVS V7.2.2] [ASVS V7.2.3] [ASVS V7.2.4] [RFC9700 §4.14]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const pair = await loginPair(testApp, user, { 'user-agent': 'curl/8.5' });
    const sid = decodeJwt(pair.access_token).sid as string;
    const rows = await refreshTokenRows(testApp, sid);
    assert.equal(rows.length, 1);
    assert.match(pair.refresh_token, /^[A-Za-z0-9_-]{43}$/, '256 random bits, base64url');
    assert.notEqual(rows[0]!.token_hash, pair.refresh_token);
    assert.equal(
      rows[0]!.token_hash,
      (await import('../../src/sessions/rotation.ts')).hashToken(pair.refresh_token),
    );

    const list = await testApp.app.inject({
      method: 'GET',
      url: '/users/me/sessions',
      headers: bearer(pair.access_token),
    });
    assert.equal(list.statusCode, 200);
    const [session] = list.json().data;
    const now = testApp.clock.now();
    assert.deepEqual(session, {
      id: sid,
      created_at: now.toISOString(),
      last_used_at: now.toISOString(),
      expires_at: new Date(now.getTime() + 14 * DAY).toISOString(),
      user_agent: 'curl/8.5',
      ip: '127.0.0.1',
      client_id: 'inkgate',
      client_name: 'inkgate (first party)',
      kind: 'token',
      current: true,
    });
  });

  test('refresh: rotates; the new pair works and the session is touched [RFC6749 §6] [ASVS V7.2.4] [RFC9700 §4.14]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const first = await loginPair(testApp, user);
    testApp.clock.advance(60_000);
    const response = await refresh(testApp, first.refresh_token);
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['cache-control'], 'no-store');
    const second = response.json();
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.match(second.refresh_token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(second.scope, 'profile posts:write comments:write');
    assert.equal(decodeJwt(second.access_token).sid, decodeJwt(first.access_token).sid);
    assert.equal((await me(testApp, second.access_token)).statusCode, 200);

    const list = await testApp.app.inject({
      method: 'GET',
      url: '/users/me/sessions',
      headers: bearer(second.access_token),
    });
    assert.equal(list.json().data[0].last_used_at, testApp.clock.now().toISOString());
    const third = await refresh(testApp, second.refresh_token);
    assert.equal(third.statusCode, 200, 'the successor is good once too');
  });

  test('refresh: a spent token presented again after 10 s revokes the whole session and is logged [RFC9700 §4.14] [ASVS V10.4.5] [API2:2023]', async (t) => {
    const { logger, lines } = captureLogs();
    const testApp = await buildTestApp(t, { engine, logger });
    const user = await createUser(testApp);
    const first = await loginPair(testApp, user);
    const second = (await refresh(testApp, first.refresh_token)).json();
    testApp.clock.advance(10_001);

    const replay = await refresh(testApp, first.refresh_token);
    assert.equal(replay.statusCode, 400);
    assert.deepEqual(replay.json(), {
      error: 'invalid_grant',
      error_description: 'the refresh token is invalid, expired or revoked',
    });

    // The whole session: the newest refresh token and every access token with that sid.
    assert.equal((await refresh(testApp, second.refresh_token)).statusCode, 400);
    const denied = await me(testApp, second.access_token);
    assert.equal(denied.statusCode, 401);
    assert.match(
      String(denied.headers['www-authenticate']),
      /error="invalid_token", error_description="the session has ended"/,
    );
    assert.equal((await me(testApp, first.access_token)).statusCode, 401);

    const events = lines
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.event === 'refresh_token_reuse');
    assert.equal(events.length, 1);
    assert.equal(events[0].userId, user.id);
    assert.equal(events[0].sessionId, decodeJwt(first.access_token).sid);
    assert.equal(events[0].ip, '127.0.0.1');
    assert.equal(events[0].level, 40);
    const metrics = await testApp.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /inkgate_refresh_token_reuse_total 1/);
    // Logging in again starts a new, unaffected session.
    assert.equal((await me(testApp, (await loginPair(testApp, user)).access_token)).statusCode, 200);
  });

  test('refresh: a second use within 10 s (a retry) succeeds with the same successor', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const first = await loginPair(testApp, user);
    const a = (await refresh(testApp, first.refresh_token)).json();
    testApp.clock.advance(9_000);
    const retry = await refresh(testApp, first.refresh_token);
    assert.equal(retry.statusCode, 200);
    const b = retry.json();
    assert.equal(b.refresh_token, a.refresh_token);
    assert.equal((await me(testApp, b.access_token)).statusCode, 200);
    const sid = decodeJwt(first.access_token).sid as string;
    assert.equal((await refreshTokenRows(testApp, sid)).length, 2, 'no second successor was stored');
    assert.equal(
      (await refresh(testApp, a.refresh_token)).statusCode,
      200,
      'the shared successor still works',
    );
  });

  test('refresh: once the successor has been used, the parent coming back within 10 s is reuse and ends the session [RFC9700 §4.14] [ASVS V10.4.5]', async (t) => {
    const { logger, lines } = captureLogs('warn');
    const testApp = await buildTestApp(t, { engine, logger });
    const user = await createUser(testApp);
    const t0 = await loginPair(testApp, user);
    const t1 = (await refresh(testApp, t0.refresh_token)).json();
    testApp.clock.advance(1_000);
    const t2 = await refresh(testApp, t1.refresh_token);
    assert.equal(t2.statusCode, 200);
    testApp.clock.advance(1_000);
    const replay = await refresh(testApp, t0.refresh_token);
    assert.equal(replay.statusCode, 400);
    assert.equal(replay.json().error, 'invalid_grant');
    assert.equal((await me(testApp, t2.json().access_token)).statusCode, 401, 'the whole session ended');
    assert.equal((await refresh(testApp, t2.json().refresh_token)).statusCode, 400);
    assert.ok(lines.some((line) => JSON.parse(line).event === 'refresh_token_reuse'));
  });

  test('refresh: parallel requests with one token all succeed with one successor, and exactly one is stored', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const first = await loginPair(testApp, user);
    const answers = await Promise.all(Array.from({ length: 8 }, () => refresh(testApp, first.refresh_token)));
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      Array(8).fill(200),
    );
    const successors = new Set(answers.map((r) => r.json().refresh_token));
    assert.equal(successors.size, 1);
    const rows = await refreshTokenRows(testApp, decodeJwt(first.access_token).sid as string);
    assert.equal(rows.length, 2);
    assert.equal(rows.filter((row) => row.spent_at === null).length, 1);
  });

  test('refresh: two instances on one database, refreshing the same token at once, agree on one successor', async (t) => {
    const url = await createStorage(t, engine);
    const clock = createManualClock(new Date());
    const a = await buildTestApp(t, { engine, url, clock });
    const b = await buildTestApp(t, { engine, url, clock });
    const user = await createUser(a);
    const first = await loginPair(a, user);
    const answers = await Promise.all([
      refresh(a, first.refresh_token),
      refresh(b, first.refresh_token),
      refresh(a, first.refresh_token),
      refresh(b, first.refresh_token),
    ]);
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      [200, 200, 200, 200],
    );
    assert.equal(new Set(answers.map((r) => r.json().refresh_token)).size, 1);
    const rows = await refreshTokenRows(a, decodeJwt(first.access_token).sid as string);
    assert.equal(rows.length, 2, 'exactly one successor stored');
  });

  test('refresh: scope may narrow, never widen; an unknown scope is invalid_scope [RFC6749 §6] [RFC6749 §5.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const first = await loginPair(testApp, user);
    const narrowed = await refresh(testApp, first.refresh_token, 'profile');
    assert.equal(narrowed.statusCode, 200);
    assert.equal(narrowed.json().scope, 'profile');
    assert.equal(decodeJwt(narrowed.json().access_token).scope, 'profile');
    const wider = await refresh(testApp, narrowed.json().refresh_token, 'profile admin');
    assert.equal(wider.statusCode, 400);
    assert.equal(wider.json().error, 'invalid_scope');
    const unknown = await refresh(testApp, narrowed.json().refresh_token, 'everything');
    assert.equal(unknown.json().error, 'invalid_scope');
    // A refused refresh spends nothing: the token still works, with the full scope of the login.
    const again = await refresh(testApp, narrowed.json().refresh_token);
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().scope, 'profile posts:write comments:write');
  });

  test('refresh: malformed or unknown tokens are invalid_grant or invalid_request, never a 500 [RFC6749 §5.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    for (const token of ['nope', 'x'.repeat(200), "' or 1=1 --", 'ünïcödé']) {
      const response = await refresh(testApp, token);
      assert.equal(response.statusCode, 400, token);
      assert.equal(response.json().error, 'invalid_grant');
    }
    const missing = await testApp.app.inject({
      method: 'POST',
      url: '/token',
      headers: FORM,
      payload: 'grant_type=refresh_token',
    });
    assert.equal(missing.json().error, 'invalid_request');
  });

  test('expiry by the clock: access tokens after their TTL, sessions after 14 idle days or 30 days in all [ASVS V7.3.1] [ASVS V7.3.2] [RFC9700 §4.14]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    let pair = await loginPair(testApp, user);

    testApp.clock.advance(15 * 60_000 + 31_000);
    assert.equal((await me(testApp, pair.access_token)).statusCode, 401, 'access token expired');

    // Refreshing every 10 days keeps the session alive until 30 days after login, not longer.
    for (const day of [10, 20]) {
      testApp.clock.advance(10 * DAY - (day === 10 ? 15 * 60_000 + 31_000 : 0));
      const response = await refresh(testApp, pair.refresh_token);
      assert.equal(response.statusCode, 200, `day ${day}`);
      pair = response.json();
    }
    testApp.clock.advance(10 * DAY);
    assert.equal(
      (await refresh(testApp, pair.refresh_token)).statusCode,
      400,
      'day 30: the session has ended',
    );

    // Idle: 14 days without a refresh end a session.
    const idle = await loginPair(testApp, user);
    testApp.clock.advance(14 * DAY - 1000);
    const fresh = await refresh(testApp, idle.refresh_token);
    assert.equal(fresh.statusCode, 200, 'just inside the idle limit');
    testApp.clock.advance(14 * DAY);
    assert.equal((await refresh(testApp, fresh.json().refresh_token)).statusCode, 400, '14 idle days');
  });

  test('POST /token/revoke: either token ends the session; unknown tokens answer 200 too [RFC7009 §2.1] [RFC7009 §2.2] [ASVS V7.4.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);

    const byRefresh = await loginPair(testApp, user);
    const revoked = await revokeToken(testApp, {
      token: byRefresh.refresh_token,
      token_type_hint: 'refresh_token',
    });
    assert.equal(revoked.statusCode, 200);
    assert.equal(revoked.body, '');
    assert.equal(revoked.headers['cache-control'], 'no-store');
    assert.equal((await me(testApp, byRefresh.access_token)).statusCode, 401);
    assert.equal((await refresh(testApp, byRefresh.refresh_token)).statusCode, 400);

    const byAccess = await loginPair(testApp, user);
    assert.equal((await revokeToken(testApp, { token: byAccess.access_token })).statusCode, 200);
    assert.equal((await me(testApp, byAccess.access_token)).statusCode, 401);
    assert.equal((await refresh(testApp, byAccess.refresh_token)).statusCode, 400);

    // A wrong hint is only a hint.
    const wrongHint = await loginPair(testApp, user);
    await revokeToken(testApp, { token: wrongHint.refresh_token, token_type_hint: 'access_token' });
    assert.equal((await me(testApp, wrongHint.access_token)).statusCode, 401);

    const untouched = await loginPair(testApp, user);
    for (const token of ['unknown', byRefresh.refresh_token, `${untouched.access_token.slice(0, -4)}AAAA`]) {
      assert.equal((await revokeToken(testApp, { token })).statusCode, 200, token);
    }
    assert.equal(
      (await me(testApp, untouched.access_token)).statusCode,
      200,
      'a tampered token revokes nothing',
    );

    // Junk of any length up to the body limit is an unknown token: 200, nothing revoked.
    for (const token of ['x'.repeat(4097), 'a.b.c'.repeat(12_000)]) {
      assert.equal((await revokeToken(testApp, { token })).statusCode, 200, `${token.length} characters`);
    }
    assert.equal((await me(testApp, untouched.access_token)).statusCode, 200);

    // The guard's own verifier: an expired access token still names its session (RFC 7009 §2.1).
    const expired = await loginPair(testApp, user);
    testApp.clock.advance(16 * 60_000);
    assert.equal((await me(testApp, expired.access_token)).statusCode, 401, 'expired');
    assert.equal((await revokeToken(testApp, { token: expired.access_token })).statusCode, 200);
    assert.equal((await refresh(testApp, expired.refresh_token)).statusCode, 400, 'its session ended');

    const missing = await revokeToken(testApp, {});
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().error, 'invalid_request');
  });

  test('sessions: list marks the current one; DELETE one ends only it; 404 for a session that is not yours [ASVS V7.5.2] [ASVS V7.4.1] [ASVS V8.2.2] [API1:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const other = await createUser(testApp);
    const laptop = await loginPair(testApp, user, { 'user-agent': 'laptop' });
    testApp.clock.advance(1000);
    const phone = await loginPair(testApp, user, { 'user-agent': 'phone' });
    const theirs = await loginPair(testApp, other);

    const list = (
      await testApp.app.inject({
        method: 'GET',
        url: '/users/me/sessions',
        headers: bearer(phone.access_token),
      })
    ).json();
    assert.deepEqual(
      list.data.map((s: { user_agent: string; current: boolean }) => [s.user_agent, s.current]),
      [
        ['phone', true],
        ['laptop', false],
      ],
    );
    const laptopId = decodeJwt(laptop.access_token).sid as string;
    // Each session names its client: password logins are the first-party client's, and so are the
    // sessions made before sessions knew their client (client_id null in the row).
    assert.deepEqual(
      list.data.map((s: { client_id: string }) => s.client_id),
      ['inkgate', 'inkgate'],
    );
    await testApp.database.db
      .updateTable('sessions')
      .set({ client_id: null })
      .where('id', '=', laptopId)
      .execute();
    const older = (
      await testApp.app.inject({
        method: 'GET',
        url: '/users/me/sessions',
        headers: bearer(phone.access_token),
      })
    ).json();
    assert.equal(older.data[1].client_id, 'inkgate');
    const login = await testApp.database.db
      .selectFrom('audit_events')
      .select('details')
      .where('type', '=', 'login_succeeded')
      .where('session_id', '=', laptopId)
      .executeTakeFirstOrThrow();
    assert.equal(JSON.parse(login.details).client_id, 'inkgate', 'login events name the client');

    for (const id of [
      decodeJwt(theirs.access_token).sid as string,
      '01a204c7-66c1-742b-a8b0-af08bd300cf0',
      'not-an-id',
    ]) {
      const response = await testApp.app.inject({
        method: 'DELETE',
        url: `/users/me/sessions/${id}`,
        headers: bearer(phone.access_token),
      });
      assert.equal(response.statusCode, 404, id);
      assert.equal(response.json().detail, 'session not found');
    }
    assert.equal((await me(testApp, theirs.access_token)).statusCode, 200);

    const gone = await testApp.app.inject({
      method: 'DELETE',
      url: `/users/me/sessions/${laptopId}`,
      headers: bearer(phone.access_token),
    });
    assert.equal(gone.statusCode, 204);
    assert.equal((await me(testApp, laptop.access_token)).statusCode, 401);
    assert.equal((await refresh(testApp, laptop.refresh_token)).statusCode, 400);
    assert.equal((await me(testApp, phone.access_token)).statusCode, 200);
    const again = await testApp.app.inject({
      method: 'DELETE',
      url: `/users/me/sessions/${laptopId}`,
      headers: bearer(phone.access_token),
    });
    assert.equal(again.statusCode, 404, 'a revoked session is no longer a live one');
    const after = (
      await testApp.app.inject({
        method: 'GET',
        url: '/users/me/sessions',
        headers: bearer(phone.access_token),
      })
    ).json();
    assert.equal(after.data.length, 1);
  });

  test('DELETE /users/me/sessions: logs out everywhere, this session included [ASVS V7.4.1] [ASVS V7.5.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const a = await loginPair(testApp, user);
    const b = await loginPair(testApp, user);
    const response = await testApp.app.inject({
      method: 'DELETE',
      url: '/users/me/sessions',
      headers: bearer(a.access_token),
    });
    assert.equal(response.statusCode, 204);
    for (const pair of [a, b]) {
      assert.equal((await me(testApp, pair.access_token)).statusCode, 401);
      assert.equal((await refresh(testApp, pair.refresh_token)).statusCode, 400);
    }
  });

  test('POST /users/me/password: 204, other sessions end, this one goes on, the new password logs in [ASVS V6.2.2] [ASVS V6.2.3] [ASVS V7.4.3]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const here = await loginPair(testApp, user);
    const elsewhere = await loginPair(testApp, user);
    const change = (body: Record<string, unknown>) =>
      testApp.app.inject({
        method: 'POST',
        url: '/users/me/password',
        headers: bearer(here.access_token),
        payload: body,
      });

    const wrong = await change({ current_password: 'not it at all', new_password: 'a brand new passphrase' });
    assert.equal(wrong.statusCode, 403);
    assert.equal(wrong.json().detail, 'the current password is wrong');
    const weak = await change({ current_password: user.password, new_password: 'password1' });
    assert.equal(weak.statusCode, 422);
    assert.deepEqual(weak.json().errors, [
      { path: '/new_password', message: 'is one of the most commonly used passwords' },
    ]);
    const same = await change({ current_password: user.password, new_password: user.username });
    assert.equal(same.statusCode, 422);
    const extra = await change({
      current_password: user.password,
      new_password: 'a brand new passphrase',
      user_id: 'x',
    });
    assert.equal(extra.statusCode, 422);
    assert.equal((await me(testApp, elsewhere.access_token)).statusCode, 200, 'refused changes end nothing');

    const ok = await change({ current_password: user.password, new_password: 'a brand new passphrase' });
    assert.equal(ok.statusCode, 204);
    assert.equal((await me(testApp, here.access_token)).statusCode, 200);
    assert.equal((await refresh(testApp, here.refresh_token)).statusCode, 200);
    assert.equal((await me(testApp, elsewhere.access_token)).statusCode, 401);
    assert.equal((await refresh(testApp, elsewhere.refresh_token)).statusCode, 400);
    await assert.rejects(loginPair(testApp, user));
    await loginPair(testApp, { ...user, password: 'a brand new passphrase' });
  });

  test('POST /users/me/password: wrong current passwords are throttled like logins (429) [ASVS V6.2.3]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const { access_token } = await loginPair(testApp, user);
    const attempt = (current: string) =>
      testApp.app.inject({
        method: 'POST',
        url: '/users/me/password',
        headers: bearer(access_token),
        payload: { current_password: current, new_password: 'a brand new passphrase' },
      });
    for (let i = 0; i < 5; i += 1) assert.equal((await attempt(`guess number ${i}`)).statusCode, 403);
    const blocked = await attempt(user.password);
    assert.equal(blocked.statusCode, 429);
    assert.equal(blocked.headers['retry-after'], '900');
    assert.equal(blocked.headers['content-type'], 'application/problem+json; charset=utf-8');
  });
});

test('revocation reaches another instance within one second even when it cannot read the change feed (its entries are then trusted one second) [ASVS V7.2.1] [ASVS V7.4.1] [ASVS V10.3.5]', async (t) => {
  const url = await createStorage(t);
  const clock = createManualClock(new Date());
  const a = await buildTestApp(t, { url, clock });
  const b = await buildTestApp(t, { url, clock, sessionFeed: unreadableFeed });
  const user = await createUser(a);
  const pair = await loginPair(a, user);
  assert.equal((await me(b, pair.access_token)).statusCode, 200, 'b caches the live session');

  await a.app.inject({ method: 'DELETE', url: '/users/me/sessions', headers: bearer(pair.access_token) });
  assert.equal(
    (await me(a, pair.access_token)).statusCode,
    401,
    'at once on the instance that made the change',
  );
  clock.advance(999);
  assert.equal((await me(b, pair.access_token)).statusCode, 200, 'b may lag, by less than a second');
  clock.advance(1);
  assert.equal((await me(b, pair.access_token)).statusCode, 401, 'and no longer');
});

describeEachEngine('the change feed, without Redis', (engine) => {
  test('another instance trusts its cached sessions past the second while it reads the feed, and forgets what the feed names at its next look: a logout, a demotion, a personal token revoked [ASVS V7.4.1]', async (t) => {
    const { a, b, clock, queries } = await twoInstances(t, engine);
    const user = await createUser(a);
    const pair = await loginPair(a, user);
    const boss = await signedIn(a, { role: 'admin' });
    const deputy = await signedIn(a, { role: 'admin' });
    const made = await a.app.inject({
      method: 'POST',
      url: '/users/me/tokens',
      headers: bearer(boss.token),
      payload: { name: 'script', scopes: ['profile'] },
    });
    const pat = made.json() as { id: string; token: string };
    const listUsers = () =>
      b.app.inject({ method: 'GET', url: '/users', headers: bearer(deputy.token) }).then((r) => r.statusCode);
    assert.equal((await me(b, pair.access_token)).statusCode, 200);
    assert.equal((await me(b, pat.token)).statusCode, 200);
    assert.equal(await listUsers(), 200);

    clock.advance(5000);
    await b.app.sessionsCaughtUp();
    queries.length = 0;
    assert.equal((await me(b, pair.access_token)).statusCode, 200);
    assert.equal((await me(b, pat.token)).statusCode, 200);
    assert.deepEqual(
      queries.filter((sql) => !/session_changes/.test(sql)),
      [],
      'five seconds on, no query: the last look began less than a second ago',
    );

    await a.app.inject({ method: 'DELETE', url: '/users/me/sessions', headers: bearer(pair.access_token) });
    await a.app.inject({
      method: 'PATCH',
      url: `/users/${deputy.user.id}`,
      headers: bearer(boss.token),
      payload: { role: 'user' },
    });
    await a.app.inject({ method: 'DELETE', url: `/users/me/tokens/${pat.id}`, headers: bearer(boss.token) });
    await b.app.sessionsCaughtUp();
    assert.equal((await me(b, pair.access_token)).statusCode, 401, 'the logout');
    assert.equal(await listUsers(), 403, 'the demotion');
    assert.equal((await me(b, pat.token)).statusCode, 401, 'the personal token');
  });
});

test('a protected request makes no database round trip while the session is cached; GET /users/me none at all', async (t) => {
  const queries: string[] = [];
  const testApp = await buildTestApp(t, { onQuery: (sql) => queries.push(sql) });
  const user = await createUser(testApp);
  const { access_token } = await loginPair(testApp, user);

  queries.length = 0;
  await me(testApp, access_token);
  assert.equal(
    queries.filter((sql) => /"sessions"/.test(sql)).length,
    1,
    'the first request loads the session once',
  );

  for (let i = 0; i < 5; i += 1) {
    queries.length = 0;
    testApp.clock.advance(100);
    const response = await me(testApp, access_token);
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().username, user.username);
    assert.deepEqual(
      queries.filter((sql) => !/session_changes/.test(sql)),
      [],
      `request ${i}: no query at all (the profile comes with the session)`,
    );
  }
  // A second on, the entry is still trusted while the change feed is read (the looks are the only queries).
  testApp.clock.advance(1000);
  await testApp.app.sessionsCaughtUp();
  queries.length = 0;
  await me(testApp, access_token);
  assert.deepEqual(
    queries.filter((sql) => !/session_changes/.test(sql)),
    [],
  );
});

test('GET /users/me from the session cache shows a profile or role change at once on the instance that made it', async (t) => {
  const testApp = await buildTestApp(t);
  const admin = await createUser(testApp, { role: 'admin' });
  const adminPair = await loginPair(testApp, admin);
  const user = await createUser(testApp);
  const { access_token } = await loginPair(testApp, user);
  assert.equal((await me(testApp, access_token)).json().full_name, '');
  const patched = await testApp.app.inject({
    method: 'PATCH',
    url: '/users/me',
    headers: bearer(access_token),
    payload: { full_name: 'Ada Lovelace' },
  });
  assert.equal(patched.statusCode, 200);
  assert.equal(
    (await me(testApp, access_token)).json().full_name,
    'Ada Lovelace',
    'no stale profile after PATCH',
  );
  const promoted = await testApp.app.inject({
    method: 'PATCH',
    url: `/users/${user.id}`,
    headers: bearer(adminPair.access_token),
    payload: { full_name: 'Countess of Lovelace', role: 'admin' },
  });
  assert.equal(promoted.statusCode, 200);
  const after = (await me(testApp, access_token)).json();
  assert.equal(after.full_name, 'Countess of Lovelace');
  assert.equal(after.role, 'admin');
});
