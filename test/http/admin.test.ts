import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { createAdminAccounts } from '../../src/accounts/admin.ts';
import { createUsersRepository } from '../../src/accounts/repository.ts';
import { createAuditTrail } from '../../src/audit/trail.ts';
import { createManualClock } from '../../src/clock.ts';
import { ConflictError } from '../../src/http/errors.ts';
import {
  bearer,
  buildTestApp,
  createStorage,
  createUser,
  describeEachEngine,
  loginPair,
  refresh,
  signedIn,
  type TestApp,
} from '../helpers/app.ts';

function as(testApp: TestApp, token: string) {
  return {
    get: (url: string) => testApp.app.inject({ method: 'GET', url, headers: bearer(token) }),
    patch: (url: string, payload: unknown) =>
      testApp.app.inject({ method: 'PATCH', url, headers: bearer(token), payload: payload as object }),
    delete: (url: string) => testApp.app.inject({ method: 'DELETE', url, headers: bearer(token) }),
  };
}

async function adminCount(testApp: TestApp): Promise<number> {
  const rows = await testApp.database.db
    .selectFrom('users')
    .select('id')
    .where('role', '=', 'admin')
    .execute();
  return rows.length;
}

/** Admin management on the test database, without session or mail side effects: for races at service level. */
function accountsService(testApp: TestApp) {
  const unexpected = async () => {
    throw new Error('a role change sends no mail');
  };
  return createAdminAccounts({
    users: createUsersRepository(testApp.database.db),
    clock: testApp.clock,
    audit: createAuditTrail({ db: testApp.database.db, clock: testApp.clock }),
    sessions: {
      revokeAllOfUser: async () => {},
      revokeAllOfUserWithin: async () => () => {},
      forgetUser: () => {},
    },
    personalTokens: { revokeAllOfUserWithin: async () => () => {} },
    mail: {
      signedUp: unexpected,
      signupAttempted: unexpected,
      emailChanged: unexpected,
      emailChangeRequested: unexpected,
      passwordChanged: unexpected,
      accountDeleted: unexpected,
      securityChanged: unexpected,
      committed: () => {},
    },
  });
}

describeEachEngine('admin', (engine) => {
  test('GET /users: newest first, paged, for admins only [ASVS V8.2.1] [API5:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const admin = await signedIn(testApp, { role: 'admin' });
    const users = [];
    for (let i = 0; i < 3; i += 1) {
      testApp.clock.advance(1000);
      users.push(await createUser(testApp));
    }
    const first = await as(testApp, admin.token).get('/users?limit=2');
    assert.equal(first.statusCode, 200);
    assert.deepEqual(
      first.json().data.map((u: { id: string }) => u.id),
      [users[2]!.id, users[1]!.id],
    );
    assert.doesNotMatch(first.body, /password|argon2/);
    const second = await as(testApp, admin.token).get(`/users?limit=2&cursor=${first.json().next_cursor}`);
    assert.deepEqual(
      second.json().data.map((u: { id: string }) => u.id),
      [users[0]!.id, admin.user.id],
    );
    assert.equal(second.json().next_cursor, null);
    assert.equal((await as(testApp, admin.token).get('/users?limit=500')).statusCode, 422);

    const plain = await signedIn(testApp);
    const refused = await as(testApp, plain.token).get('/users');
    assert.equal(refused.statusCode, 403);
    assert.equal(
      refused.headers['www-authenticate'],
      'Bearer realm="inkgate", error="insufficient_scope", scope="admin"',
    );
    assert.equal((await testApp.app.inject({ method: 'GET', url: '/users' })).statusCode, 401);
    // An admin whose token was narrowed away from admin is refused too.
    const narrowed = await signedIn(testApp, { role: 'admin', scope: 'profile' });
    assert.equal((await as(testApp, narrowed.token).get('/users')).statusCode, 403);
  });

  test('GET /users/{id}: 200, or 404 for unknown and malformed ids', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const admin = await signedIn(testApp, { role: 'admin' });
    const user = await createUser(testApp);
    const found = await as(testApp, admin.token).get(`/users/${user.id}`);
    assert.equal(found.statusCode, 200);
    assert.equal(found.json().username, user.username);
    for (const id of ['01a204c7-66c1-742b-a8b0-af08bd300cf0', 'nope']) {
      assert.equal((await as(testApp, admin.token).get(`/users/${id}`)).statusCode, 404, id);
    }
  });

  test('PATCH /users/{id}: role, name and email; 409 for a taken email; 422 for fields an admin cannot set [ASVS V8.2.3] [API3:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const admin = await signedIn(testApp, { role: 'admin' });
    const user = await createUser(testApp);
    const other = await createUser(testApp);
    const api = as(testApp, admin.token);
    const changed = await api.patch(`/users/${user.id}`, {
      full_name: 'Renamed',
      email: 'NEW-ADDRESS@example.com',
      role: 'admin',
    });
    assert.equal(changed.statusCode, 200);
    assert.equal(changed.json().full_name, 'Renamed');
    assert.equal(changed.json().email, 'new-address@example.com');
    assert.equal(changed.json().role, 'admin');
    assert.equal((await api.patch(`/users/${user.id}`, { email: other.email })).statusCode, 409);
    for (const payload of [
      { password: 'a new password!' },
      { username: 'x_y_z' },
      { id: other.id },
      { role: 'root' },
      { disabled: 'yes' },
    ]) {
      const response = await api.patch(`/users/${user.id}`, payload);
      assert.equal(response.statusCode, 422, JSON.stringify(payload));
    }
    assert.equal(
      (await api.patch('/users/01a204c7-66c1-742b-a8b0-af08bd300cf0', { full_name: 'x' })).statusCode,
      404,
    );
  });

  test('disabling a user ends all their sessions at once; they cannot log in; enabling lets them log in again [ASVS V7.4.2] [ASVS V7.4.5] [ASVS V8.3.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const admin = await signedIn(testApp, { role: 'admin' });
    const user = await createUser(testApp);
    const pair = await loginPair(testApp, user);
    assert.equal((await as(testApp, pair.access_token).get('/users/me')).statusCode, 200);

    const disabled = await as(testApp, admin.token).patch(`/users/${user.id}`, { disabled: true });
    assert.equal(disabled.statusCode, 200);
    assert.equal(disabled.json().disabled, true);
    assert.equal((await as(testApp, pair.access_token).get('/users/me')).statusCode, 401);
    assert.equal((await refresh(testApp, pair.refresh_token)).statusCode, 400);
    await assert.rejects(loginPair(testApp, user));

    await as(testApp, admin.token).patch(`/users/${user.id}`, { disabled: false });
    const back = await loginPair(testApp, user);
    assert.equal((await as(testApp, back.access_token).get('/users/me')).statusCode, 200);
    assert.equal((await refresh(testApp, pair.refresh_token)).statusCode, 400, 'old sessions stay revoked');
  });

  test('a demoted admin’s existing token stops passing admin routes at once (ASVS 8.3.2) [ASVS V8.3.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const boss = await signedIn(testApp, { role: 'admin' });
    const deputy = await signedIn(testApp, { role: 'admin' });
    assert.equal((await as(testApp, deputy.token).get('/users')).statusCode, 200);

    const demoted = await as(testApp, boss.token).patch(`/users/${deputy.user.id}`, { role: 'user' });
    assert.equal(demoted.statusCode, 200);
    const refused = await as(testApp, deputy.token).get('/users');
    assert.equal(refused.statusCode, 403);
    assert.match(String(refused.headers['www-authenticate']), /error="insufficient_scope"/);
    assert.equal(
      (await as(testApp, deputy.token).get('/users/me')).statusCode,
      200,
      'the rest of the token still works',
    );
  });

  test('the last enabled admin cannot be disabled, demoted or deleted (409); with two, one can', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const admin = await signedIn(testApp, { role: 'admin' });
    const api = as(testApp, admin.token);
    for (const payload of [{ disabled: true }, { role: 'user' }]) {
      const response = await api.patch(`/users/${admin.user.id}`, payload);
      assert.equal(response.statusCode, 409, JSON.stringify(payload));
      assert.match(response.json().detail, /last remaining admin/);
    }
    assert.equal((await api.delete(`/users/${admin.user.id}`)).statusCode, 409);
    assert.equal((await api.patch(`/users/${admin.user.id}`, { full_name: 'Still me' })).statusCode, 200);

    const second = await createUser(testApp, { role: 'admin' });
    assert.equal((await api.patch(`/users/${second.id}`, { disabled: true })).statusCode, 200);
    assert.equal(
      (await api.patch(`/users/${admin.user.id}`, { role: 'user' })).statusCode,
      409,
      'a disabled admin does not count',
    );
    await api.patch(`/users/${second.id}`, { disabled: false });
    assert.equal((await api.patch(`/users/${admin.user.id}`, { role: 'user' })).statusCode, 200);
  });

  test('two admins demoting each other at once leave one admin', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const a = await signedIn(testApp, { role: 'admin' });
    const b = await signedIn(testApp, { role: 'admin' });
    // Both sessions are cached as admin, so both requests pass the guard and race in the service.
    await as(testApp, a.token).get('/users');
    await as(testApp, b.token).get('/users');
    const answers = await Promise.all([
      as(testApp, a.token).patch(`/users/${b.user.id}`, { role: 'user' }),
      as(testApp, b.token).patch(`/users/${a.user.id}`, { role: 'user' }),
    ]);
    // The loser is refused by whichever check meets it first: the guard (its role is already gone, 403)
    // or the service's last-admin rule under its lock (409).
    const statuses = answers.map((r) => r.statusCode).sort();
    assert.ok(statuses[0] === 200 && [403, 409].includes(statuses[1]!), answers.map((r) => r.body).join());
    assert.equal(await adminCount(testApp), 1);
  });

  test('DELETE /users/{id}: the user, their posts and sessions go; their token stops at once [ASVS V7.4.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const admin = await signedIn(testApp, { role: 'admin' });
    const user = await createUser(testApp);
    const pair = await loginPair(testApp, user);
    const post = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: bearer(pair.access_token),
      payload: { title: 'Soon gone', content: 'c' },
    });
    assert.equal(post.statusCode, 201);

    assert.equal((await as(testApp, admin.token).delete(`/users/${user.id}`)).statusCode, 204);
    assert.equal((await as(testApp, admin.token).get(`/users/${user.id}`)).statusCode, 404);
    assert.equal((await as(testApp, admin.token).delete(`/users/${user.id}`)).statusCode, 404);
    assert.equal(
      (await testApp.app.inject({ method: 'GET', url: `/posts/${post.json().id}` })).statusCode,
      404,
    );
    const write = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: bearer(pair.access_token),
      payload: { title: 'ghost', content: 'c' },
    });
    assert.equal(write.statusCode, 401, 'no 500 from a token of a deleted user');
    assert.equal((await refresh(testApp, pair.refresh_token)).statusCode, 400);
    const sessions = await testApp.database.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user.id)
      .execute();
    assert.deepEqual(sessions, []);
  });
});

describeEachEngine('admin service', (engine) => {
  test('the last-admin rule holds under concurrent demotions (the service under its lock)', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const a = await createUser(testApp, { role: 'admin' });
    const b = await createUser(testApp, { role: 'admin' });
    const accounts = accountsService(testApp);
    const outcomes = await Promise.allSettled([
      accounts.adminUpdate(a.id, { role: 'user' }),
      accounts.adminUpdate(b.id, { role: 'user' }),
    ]);
    const rejected = outcomes.filter((o) => o.status === 'rejected');
    assert.equal(rejected.length, 1);
    assert.ok((rejected[0] as PromiseRejectedResult).reason instanceof ConflictError);
    assert.equal(await adminCount(testApp), 1);
  });
});

test('PostgreSQL: admin changes wait for the admin-changes lock (so two cannot both pass the last-admin check)', {
  skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL',
}, async (t) => {
  const url = await createStorage(t, 'postgres');
  const testApp = await buildTestApp(t, { engine: 'postgres', url });
  await createUser(testApp, { role: 'admin' });
  const other = await createUser(testApp, { role: 'admin' });
  const accounts = accountsService(testApp);
  // Another "instance" holds the lock in an open transaction.
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  t.after(() => holder.end());
  await holder.query('begin');
  await holder.query("select pg_advisory_xact_lock(hashtext('inkgate:admin-changes'))");

  let finished = false;
  const demotion = accounts.adminUpdate(other.id, { role: 'user' }).then(() => {
    finished = true;
  });
  // Awaited, not slept: the demotion's connection is seen waiting for the advisory lock.
  for (;;) {
    const waiting = await holder.query(
      "select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted",
    );
    if (waiting.rows[0].n > 0) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(finished, false, 'the change waits while another admin change is under way');
  await holder.query('commit');
  await demotion;
  assert.equal(finished, true);
});

test('a role change reaches another instance within one second [ASVS V8.3.2]', async (t) => {
  const url = await createStorage(t);
  const clock = createManualClock(new Date());
  const a = await buildTestApp(t, { url, clock });
  const b = await buildTestApp(t, { url, clock });
  const boss = await signedIn(a, { role: 'admin' });
  const deputy = await signedIn(a, { role: 'admin' });
  assert.equal((await as(b, deputy.token).get('/users')).statusCode, 200);
  await as(a, boss.token).patch(`/users/${deputy.user.id}`, { role: 'user' });
  assert.equal((await as(a, deputy.token).get('/users')).statusCode, 403);
  clock.advance(1000);
  assert.equal((await as(b, deputy.token).get('/users')).statusCode, 403);
});
