import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJwt } from 'jose';
import { createAccountCreation } from '../../src/accounts/creation.ts';
import { hashPassword } from '../../src/accounts/passwords.ts';
import { createUsersRepository } from '../../src/accounts/repository.ts';
import { createAuditTrail } from '../../src/audit/trail.ts';
import { keySettings } from '../../src/config.ts';
import { createKeyCipher } from '../../src/keys/key-encryption.ts';
import { loadKeyRing } from '../../src/keys/key-ring.ts';
import { rotateKeys } from '../../src/keys/stored-keys.ts';
import { createSessionsRepository } from '../../src/sessions/repository.ts';
import {
  bearer,
  buildTestApp,
  captureLogs,
  createUser,
  describeEachEngine,
  FORM,
  loginPair,
  openTestDatabase,
  signedIn,
  type TestApp,
  type TestUser,
} from '../helpers/app.ts';

const AGENT = 'audit-test/1.0 (X11; Linux x86_64)';
const FROM = '203.0.113.9';

interface AuditEvent {
  id: string;
  occurred_at: string;
  type: string;
  user_id: string | null;
  actor_id: string | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
}

/** A request as a browser at FROM would send it. */
function send(
  testApp: TestApp,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  options: { token?: string; payload?: object | string; form?: boolean } = {},
) {
  return testApp.app.inject({
    method,
    url,
    remoteAddress: FROM,
    headers: {
      'user-agent': AGENT,
      ...(options.token !== undefined && bearer(options.token)),
      ...(options.form && FORM),
    },
    ...(options.payload !== undefined && { payload: options.payload }),
  });
}

function passwordLogin(testApp: TestApp, username: string, password: string) {
  return send(testApp, 'POST', '/token', {
    form: true,
    payload: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  });
}

async function pairAt(testApp: TestApp, user: TestUser) {
  const response = await passwordLogin(testApp, user.username, user.password);
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as { access_token: string; refresh_token: string };
}

/** Every event of the audit log (admin view), newest first, following every page. */
async function allEvents(testApp: TestApp, adminToken: string, query = ''): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  let cursor: string | null = null;
  do {
    const separator = query === '' ? '' : '&';
    const url: string = `/audit-events?limit=100${separator}${query}${cursor ? `&cursor=${cursor}` : ''}`;
    const page = await testApp.app.inject({ method: 'GET', url, headers: bearer(adminToken) });
    assert.equal(page.statusCode, 200, page.body);
    const body = page.json() as { data: AuditEvent[]; next_cursor: string | null };
    events.push(...body.data);
    cursor = body.next_cursor;
  } while (cursor);
  return events;
}

function only(events: AuditEvent[], type: string, userId?: string): AuditEvent {
  const found = events.filter(
    (event) => event.type === type && (userId === undefined || event.user_id === userId),
  );
  assert.equal(found.length, 1, `one ${type} event for ${userId}: ${JSON.stringify(found)}`);
  return found[0]!;
}

describeEachEngine('audit log', (engine) => {
  test('every security event is recorded by the action that causes it, with its user, actor, session, address and agent; each is one log line; no secret is stored', async (t) => {
    const { logger, lines } = captureLogs();
    const testApp = await buildTestApp(t, { engine, logger });
    const admin = await signedIn(testApp, { role: 'admin' });
    const secrets: string[] = [admin.token];

    // signup
    const username = `audited_${engine}_${process.pid}`;
    const password = 'correct horse battery audit';
    const signup = await send(testApp, 'POST', '/users', {
      payload: { username, email: `${username}@example.com`, password },
    });
    assert.equal(signup.statusCode, 201);
    const user: TestUser = {
      id: signup.json().id,
      username,
      email: `${username}@example.com`,
      password,
      role: 'user',
    };
    secrets.push(password);

    // login_failed (a known account), and an unknown name that must leave no trace
    testApp.clock.advance(1000);
    assert.equal((await passwordLogin(testApp, username, 'not the password at all')).statusCode, 400);
    secrets.push('not the password at all');
    assert.equal((await passwordLogin(testApp, 'nobody_typed_this_name', 'whatever-it-was')).statusCode, 400);
    secrets.push('nobody_typed_this_name', 'whatever-it-was');

    // login_succeeded, twice: the second from an address the owner has used
    testApp.clock.advance(1000);
    const first = await pairAt(testApp, user);
    testApp.clock.advance(1000);
    const second = await pairAt(testApp, user);
    const third = await pairAt(testApp, user);
    secrets.push(first.access_token, first.refresh_token, second.access_token, second.refresh_token);

    // refresh_token_reuse: the first refresh token spent, then presented again after the grace period
    const refreshed = await send(testApp, 'POST', '/token', {
      form: true,
      payload: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token,
      }).toString(),
    });
    assert.equal(refreshed.statusCode, 200);
    secrets.push(refreshed.json().refresh_token, refreshed.json().access_token);
    testApp.clock.advance(10_001);
    const reuse = await send(testApp, 'POST', '/token', {
      form: true,
      payload: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token,
      }).toString(),
    });
    assert.equal(reuse.statusCode, 400);

    // session_revoked: by the user, and by the client through RFC 7009
    const secondSid = decodeJwt(second.access_token).sid as string;
    const thirdSid = decodeJwt(third.access_token).sid as string;
    assert.equal(
      (await send(testApp, 'DELETE', `/users/me/sessions/${secondSid}`, { token: third.access_token }))
        .statusCode,
      204,
    );
    const fourth = await pairAt(testApp, user);
    const fourthSid = decodeJwt(fourth.access_token).sid as string;
    secrets.push(fourth.refresh_token, third.refresh_token);
    const revoked = await send(testApp, 'POST', '/token/revoke', {
      form: true,
      payload: new URLSearchParams({ token: fourth.refresh_token }).toString(),
    });
    assert.equal(revoked.statusCode, 200);

    // password_changed, with the other sessions ended (sessions_revoked_all, reason password_changed)
    const fifth = await pairAt(testApp, user);
    const newPassword = 'an even better audit passphrase';
    secrets.push(newPassword);
    const changed = await send(testApp, 'POST', '/users/me/password', {
      token: third.access_token,
      payload: { current_password: password, new_password: newPassword },
    });
    assert.equal(changed.statusCode, 204);
    const renewed: TestUser = { ...user, password: newPassword };

    // email_changed
    const newEmail = `${username}.new@example.com`;
    const patched = await send(testApp, 'PATCH', '/users/me', {
      token: third.access_token,
      payload: { email: newEmail, current_password: newPassword },
    });
    assert.equal(patched.statusCode, 200);

    // sessions_revoked_all: log out everywhere
    const sixth = await pairAt(testApp, renewed);
    assert.equal(
      (await send(testApp, 'DELETE', '/users/me/sessions', { token: sixth.access_token })).statusCode,
      204,
    );

    // user_updated (by an admin, with a disable that ends the sessions), then user_deleted
    await pairAt(testApp, renewed);
    const updated = await send(testApp, 'PATCH', `/users/${user.id}`, {
      token: admin.token,
      payload: { role: 'admin', disabled: true, full_name: 'Audited' },
    });
    assert.equal(updated.statusCode, 200);
    assert.equal(
      (await send(testApp, 'DELETE', `/users/${user.id}`, { token: admin.token })).statusCode,
      204,
    );

    // key_rotated (the CLI's rotate-keys) and admin_bootstrapped (ADMIN_* at start), on the same trail
    const trail = createAuditTrail({ db: testApp.database.db, clock: testApp.clock, log: logger });
    const rotation = await rotateKeys(testApp.database.db, {
      alg: 'HS256',
      now: testApp.clock.now(),
      accessTokenTtlSeconds: 900,
      cipher: createKeyCipher(undefined),
      audit: trail,
    });
    const bootstrapper = createAccountCreation({
      users: createUsersRepository(testApp.database.db),
      clock: testApp.clock,
      audit: trail,
      hash: hashPassword,
    });
    // An admin exists (the test's), so ensureAdmin makes none; on an empty database it would.
    assert.equal(
      await bootstrapper.ensureAdmin({
        username: 'boot',
        email: 'boot@example.com',
        password: 'boot-pass-123',
      }),
      undefined,
    );
    await testApp.database.db.deleteFrom('users').where('role', '=', 'admin').execute();
    const bootstrapped = await bootstrapper.ensureAdmin({
      username: `boot_${engine}`,
      email: `boot_${engine}@example.com`,
      password: 'boot-pass-123',
    });
    assert.ok(bootstrapped);
    secrets.push('boot-pass-123');
    const reader = await signedIn(testApp, { role: 'admin' });

    const events = await allEvents(testApp, reader.token);
    const mine = events.filter((event) => event.user_id === user.id);
    const expectRequest = (event: AuditEvent) => {
      assert.equal(event.ip, FROM, `${event.type} address`);
      assert.equal(event.user_agent, AGENT, `${event.type} user agent`);
    };

    const signedUp = only(mine, 'signup');
    expectRequest(signedUp);
    assert.deepEqual(signedUp.details, { username, role: 'user' });
    assert.equal(signedUp.actor_id, null);

    const failed = only(mine, 'login_failed');
    expectRequest(failed);
    assert.deepEqual(failed.details, { reason: 'wrong_password' });
    assert.equal(failed.session_id, null);
    assert.equal(
      events.filter((event) => event.type === 'login_failed').length,
      1,
      'unknown names leave none',
    );

    const logins = mine.filter((event) => event.type === 'login_succeeded');
    assert.equal(logins.length, 7);
    const firstLogin = logins.find((event) => event.session_id === decodeJwt(first.access_token).sid);
    assert.ok(firstLogin);
    expectRequest(firstLogin);
    assert.deepEqual(firstLogin.details, {
      scope: 'profile posts:write comments:write',
      client_id: 'inkgate',
      amr: ['pwd'],
      seen_before: 'no',
    });
    assert.deepEqual(
      logins.find((event) => event.session_id === secondSid)?.details,
      {
        scope: 'profile posts:write comments:write',
        client_id: 'inkgate',
        amr: ['pwd'],
        seen_before: 'address',
      },
      'the second login comes from a remembered address',
    );

    const stolen = only(mine, 'refresh_token_reuse');
    expectRequest(stolen);
    assert.equal(stolen.session_id, decodeJwt(first.access_token).sid);
    assert.equal(stolen.details.spent_ms_ago, 10_001);

    const ended = mine.filter((event) => event.type === 'session_revoked');
    assert.deepEqual(
      ended.map((event) => [event.session_id, event.details.reason]).sort(),
      [
        [secondSid, 'logged_out'],
        [fourthSid, 'revoked_by_client'],
      ].sort(),
    );
    for (const event of ended) expectRequest(event);

    const passwordChanged = only(mine, 'password_changed');
    expectRequest(passwordChanged);
    assert.equal(passwordChanged.session_id, thirdSid);
    const allEnded = mine.filter((event) => event.type === 'sessions_revoked_all');
    assert.deepEqual(allEnded.map((event) => event.details).reverse(), [
      { reason: 'password_changed', sessions: 1 },
      { reason: 'logout_everywhere', sessions: 2 },
      { reason: 'user_disabled', sessions: 1 },
    ]);
    assert.equal(allEnded.at(-1)?.session_id, thirdSid, 'the session that changed the password');
    assert.equal(allEnded[0]?.actor_id, admin.user.id, 'the disable was the admin’s');
    assert.equal(fifth.access_token.length > 0, true);

    const verificationsSent = mine.filter((event) => event.type === 'email_verification_sent');
    assert.deepEqual(
      verificationsSent.map((event) => event.details.to),
      [newEmail, user.email],
      'one at signup, one to the new address',
    );
    for (const event of verificationsSent) expectRequest(event);

    const emailChanged = only(mine, 'email_changed');
    expectRequest(emailChanged);
    assert.deepEqual(emailChanged.details, { from: user.email, to: newEmail });

    const adminChange = only(mine, 'user_updated');
    expectRequest(adminChange);
    assert.equal(adminChange.actor_id, admin.user.id);
    assert.equal(adminChange.session_id, decodeJwt(admin.token).sid);
    assert.deepEqual(adminChange.details, {
      fields: ['role', 'disabled', 'full_name'],
      role_from: 'user',
      role_to: 'admin',
      disabled_from: false,
      disabled_to: true,
    });

    const deleted = only(mine, 'user_deleted');
    expectRequest(deleted);
    assert.equal(deleted.actor_id, admin.user.id);
    assert.deepEqual(deleted.details, { username, role: 'admin' });

    const rotated = only(events, 'key_rotated');
    assert.deepEqual(rotated.details, {
      kid: rotation?.kid,
      alg: 'HS256',
      activates_at: rotation?.activatesAt.toISOString(),
      trigger: 'manual',
    });
    assert.equal(rotated.user_id, null);
    const boot = only(events, 'admin_bootstrapped');
    assert.equal(boot.user_id, bootstrapped.id);
    assert.deepEqual(boot.details, { username: `boot_${engine}`, role: 'admin', via: 'settings' });

    // Each stored event is exactly one log line with `event: <type>`, and the same facts.
    const logged = lines.map((line) => JSON.parse(line)).filter((entry) => typeof entry.eventId === 'string');
    for (const event of [...mine, rotated, boot]) {
      const forEvent = logged.filter((entry) => entry.eventId === event.id);
      assert.equal(forEvent.length, 1, `one log line for ${event.type}`);
      assert.equal(forEvent[0].event, event.type);
      assert.equal(forEvent[0].userId ?? null, event.user_id);
      assert.equal(forEvent[0].ip ?? null, event.ip);
      assert.deepEqual(forEvent[0].details, event.details);
    }

    // No password, hash, token or key anywhere in a stored event.
    const hashes = (await testApp.database.db.selectFrom('users').select('password_hash').execute()).map(
      (row) => row.password_hash,
    );
    const keyMaterial = (
      await testApp.database.db.selectFrom('signing_keys').select('private_jwk').execute()
    ).flatMap((row) =>
      Object.values(JSON.parse(row.private_jwk) as Record<string, string>).filter((v) => v.length > 20),
    );
    const stored = await testApp.database.db.selectFrom('audit_events').selectAll().execute();
    assert.equal(stored.length, events.length);
    const text = JSON.stringify(stored);
    for (const secret of [
      ...secrets,
      ...hashes,
      ...keyMaterial,
      testApp.config.jwtSecret ?? 'unset-secret',
    ]) {
      assert.equal(text.includes(secret), false, `a secret (${secret.slice(0, 6)}…) is in the audit log`);
    }
    assert.doesNotMatch(text, /\$argon2|eyJ[A-Za-z0-9_-]{10,}/);
  });

  test('login_throttled: at most one event per account and address per minute, however many attempts', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const admin = await signedIn(testApp, { role: 'admin' });
    const user = await createUser(testApp);
    for (let i = 0; i < 5; i += 1) {
      assert.equal((await passwordLogin(testApp, user.username, `wrong-${i}`)).statusCode, 400);
    }
    for (let i = 0; i < 20; i += 1) {
      assert.equal((await passwordLogin(testApp, user.username, `wrong-again-${i}`)).statusCode, 429);
    }
    let throttled = await allEvents(testApp, admin.token, 'type=login_throttled');
    assert.equal(throttled.length, 1);
    assert.equal(throttled[0]?.user_id, user.id);
    assert.equal(throttled[0]?.ip, FROM);
    assert.equal(typeof throttled[0]?.details.retry_after_seconds, 'number');
    assert.equal((await allEvents(testApp, admin.token, 'type=login_failed')).length, 5);

    testApp.clock.advance(60_000);
    for (let i = 0; i < 5; i += 1) await passwordLogin(testApp, user.username, `later-${i}`);
    throttled = await allEvents(testApp, admin.token, 'type=login_throttled');
    assert.equal(throttled.length, 2, 'the next minute has its own');

    // Instances sharing a database keep to the same bound: the key is unique in the table too.
    const other = createAuditTrail({ db: testApp.database.db, clock: testApp.clock });
    const key = `login_throttled:${user.id}:${FROM}:${Math.floor(testApp.clock.now().getTime() / 60_000)}`;
    other.later('login_throttled', { userId: user.id, ip: FROM, collapseKey: key });
    await other.flush();
    assert.equal((await allEvents(testApp, admin.token, 'type=login_throttled')).length, 2);
  });

  test('a change that rolls back records nothing; an event that cannot be stored rolls its change back', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const trail = createAuditTrail({ db: testApp.database.db, clock: testApp.clock });
    const users = createUsersRepository(testApp.database.db);
    const a = await createUser(testApp);
    const b = await createUser(testApp);
    const count = async () =>
      Number(
        (
          await testApp.database.db
            .selectFrom('audit_events')
            .select((eb) => eb.fn.countAll<number | string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await count();

    // The change fails (b's address is taken): its event goes with it.
    const event = trail.event('email_changed', { userId: a.id, details: { from: a.email, to: b.email } });
    await assert.rejects(users.update(a.id, { email: b.email }, [event]));
    assert.equal(await count(), before);

    // The event fails (its id is taken): the change goes with it.
    const existing = await testApp.database.db
      .selectFrom('audit_events')
      .select('id')
      .executeTakeFirstOrThrow();
    const clash = { ...trail.event('email_changed', { userId: a.id }), id: existing.id };
    await assert.rejects(users.update(a.id, { email: `moved-${a.email}` }, [clash]));
    assert.equal((await users.findById(a.id))?.email, a.email);

    const pair = await loginPair(testApp, a);
    const sessions = createSessionsRepository(testApp.database.db);
    await assert.rejects(
      sessions.revokeAllOfUser(a.id, 'logout_everywhere', testApp.clock.now(), {
        eventsFor: () => [{ ...trail.event('sessions_revoked_all', { userId: a.id }), id: existing.id }],
      }),
    );
    const session = await testApp.database.db
      .selectFrom('sessions')
      .select('revoked_at')
      .where('id', '=', decodeJwt(pair.access_token).sid as string)
      .executeTakeFirstOrThrow();
    assert.equal(session.revoked_at, null, 'the session lives on');
    const me = await testApp.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: bearer(pair.access_token),
    });
    assert.equal(me.statusCode, 200);
    const beforeRace = await count();

    // A racing signup that loses on the unique index records nothing either.
    const racers = await Promise.all(
      [1, 2].map(() =>
        testApp.app.inject({
          method: 'POST',
          url: '/users',
          payload: { username: 'racer_one', email: 'racer@example.com', password: 'racing-passphrase-1' },
        }),
      ),
    );
    assert.deepEqual(racers.map((r) => r.statusCode).sort(), [201, 409]);
    const signups = await testApp.database.db
      .selectFrom('audit_events')
      .select('user_id')
      .where('type', '=', 'signup')
      .execute();
    assert.equal(
      signups.filter((row) => row.user_id === racers.find((r) => r.statusCode === 201)?.json().id).length,
      1,
    );
    assert.equal(await count(), beforeRace + 2, 'the winner’s signup and its email_verification_sent');
  });

  test('GET /audit-events is for admins; GET /users/me/security-events shows the caller only their own [ASVS V8.2.2] [API1:2023] [API5:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const alice = await signedIn(testApp);
    const bob = await signedIn(testApp);

    const refused = await testApp.app.inject({
      method: 'GET',
      url: '/audit-events',
      headers: bearer(alice.token),
    });
    assert.equal(refused.statusCode, 403);
    assert.equal(
      refused.headers['www-authenticate'],
      'Bearer realm="inkgate", error="insufficient_scope", scope="admin"',
    );
    assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
    const anonymous = await testApp.app.inject({ method: 'GET', url: '/audit-events' });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="inkgate"');
    assert.equal(
      (await testApp.app.inject({ method: 'GET', url: '/users/me/security-events' })).statusCode,
      401,
    );

    assert.equal((await passwordLogin(testApp, bob.user.username, 'not-bobs-password')).statusCode, 400);
    const own = await testApp.app.inject({
      method: 'GET',
      url: '/users/me/security-events',
      headers: bearer(alice.token),
    });
    assert.equal(own.statusCode, 200);
    assert.equal(own.headers['cache-control'], 'no-store');
    const data = own.json().data as AuditEvent[];
    assert.deepEqual(
      data.map((event) => event.type),
      ['login_succeeded', 'email_verification_sent', 'signup'],
    );
    assert.ok(data.every((event) => event.user_id === alice.user.id));
    const bobs = await testApp.app.inject({
      method: 'GET',
      url: '/users/me/security-events?type=login_failed',
      headers: bearer(bob.token),
    });
    assert.equal(bobs.json().data.length, 1);
    assert.equal(bobs.json().data[0].details.reason, 'wrong_password');

    // Another user's events cannot be asked for.
    const sneaky = await testApp.app.inject({
      method: 'GET',
      url: `/users/me/security-events?user_id=${bob.user.id}`,
      headers: bearer(alice.token),
    });
    assert.equal(sneaky.statusCode, 422);
    assert.equal(sneaky.json().errors[0].path, '/user_id');

    // A token without `profile` is refused.
    const postsOnly = await signedIn(testApp, { scope: 'posts:write' });
    const narrow = await testApp.app.inject({
      method: 'GET',
      url: '/users/me/security-events',
      headers: bearer(postsOnly.token),
    });
    assert.equal(narrow.statusCode, 403);
  });

  test('GET /audit-events: filters by type, user and time, pages with a cursor, refuses bad filters with 422', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const admin = await signedIn(testApp, { role: 'admin' });
    const start = testApp.clock.now();
    const users: TestUser[] = [];
    for (let i = 0; i < 5; i += 1) {
      testApp.clock.advance(60_000);
      const user = await createUser(testApp);
      users.push(user);
      await loginPair(testApp, user);
    }
    const get = (query: string) =>
      testApp.app.inject({ method: 'GET', url: `/audit-events?${query}`, headers: bearer(admin.token) });

    const signups = (await get('type=signup')).json().data as AuditEvent[];
    assert.deepEqual(
      signups.map((event) => event.user_id),
      [...users]
        .reverse()
        .map((user) => user.id)
        .concat(admin.user.id),
      'newest first',
    );
    const both = (await get('type=signup,login_succeeded')).json().data as AuditEvent[];
    assert.equal(both.length, 5 * 2 + 2);
    const ofOne = (await get(`user_id=${users[2]!.id}`)).json().data as AuditEvent[];
    assert.deepEqual(
      ofOne.map((event) => event.type),
      ['login_succeeded', 'email_verification_sent', 'signup'],
    );

    const since = new Date(start.getTime() + 2 * 60_000).toISOString();
    const until = new Date(start.getTime() + 4 * 60_000).toISOString();
    const window = (await get(`type=signup&since=${since}&until=${until}`)).json().data as AuditEvent[];
    assert.deepEqual(
      window.map((event) => event.user_id),
      [users[2]!.id, users[1]!.id],
      'since inclusive, until exclusive',
    );

    // Paging: every event once, in order.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: AuditEvent[]; next_cursor: string | null } = (
        await get(`limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      ).json();
      assert.ok(page.data.length <= 3);
      seen.push(...page.data.map((event) => event.id));
      cursor = page.next_cursor;
    } while (cursor);
    const everything = (await get('limit=100')).json().data as AuditEvent[];
    assert.deepEqual(
      seen,
      everything.map((event) => event.id),
    );
    assert.equal(new Set(seen).size, seen.length);

    for (const [query, path] of [
      ['type=signup,not_a_type', '/type'],
      ['user_id=nope', '/user_id'],
      ['since=yesterday', '/since'],
      ['until=2026-13-01T00:00:00Z', '/until'],
      [`since=${until}&until=${since}`, '/until'],
      ['limit=0', '/limit'],
      ['limit=101', '/limit'],
      ['cursor=not-ours', '/cursor'],
      ['colour=red', '/colour'],
    ] as const) {
      const response = await get(query);
      assert.equal(response.statusCode, 422, query);
      assert.equal(response.json().errors[0].path, path, query);
    }
  });

  test('retention: the scheduled purge deletes exactly the events older than AUDIT_RETENTION_DAYS', async (t) => {
    const { scheduledJobs } = await import('../../src/server.ts');
    const testApp = await buildTestApp(t, { engine, env: { AUDIT_RETENTION_DAYS: '7' } });
    const trail = createAuditTrail({ db: testApp.database.db, clock: testApp.clock });
    const now = testApp.clock.now().getTime();
    const DAY = 86_400_000;
    const ages = [30 * DAY, 7 * DAY + 1, 7 * DAY, 7 * DAY - 1, DAY, 0];
    const ids: string[] = [];
    for (const age of ages) {
      testApp.clock.set(new Date(now - age));
      const event = trail.event('signup', { details: { age } });
      ids.push(event.id);
      await testApp.database.db.insertInto('audit_events').values(event).execute();
    }
    testApp.clock.set(new Date(now));
    const job = scheduledJobs(testApp.config, testApp.database, trail).find(
      (each) => each.name === 'purge-audit-events',
    );
    assert.ok(job);
    assert.deepEqual(await job.run(testApp.clock.now()), { auditEvents: 2 });
    const left = await testApp.database.db
      .selectFrom('audit_events')
      .select('id')
      .where('type', '=', 'signup')
      .execute();
    assert.deepEqual(left.map((row) => row.id).sort(), ids.slice(2).sort());
  });
});

test('key_rotated: the first key and each rotation are recorded with their kid, never their material', async (t) => {
  const database = await openTestDatabase(t);
  const { createManualClock } = await import('../../src/clock.ts');
  const clock = createManualClock();
  const trail = createAuditTrail({ db: database.db, clock });
  const { loadConfig } = await import('../../src/config.ts');
  const config = loadConfig({ ISSUER: 'http://inkgate.test', JWT_ALG: 'ES256' });
  const ring = await loadKeyRing({ db: database.db, clock, settings: keySettings(config), audit: trail });
  const rows = await database.db.selectFrom('audit_events').selectAll().execute();
  assert.equal(rows.length, 1);
  assert.deepEqual(JSON.parse(rows[0]!.details), { kid: ring.current().kid, alg: 'ES256', trigger: 'first' });
  const key = await database.db.selectFrom('signing_keys').select('private_jwk').executeTakeFirstOrThrow();
  const d = (JSON.parse(key.private_jwk) as { d: string }).d;
  assert.equal(JSON.stringify(rows).includes(d), false);
});
