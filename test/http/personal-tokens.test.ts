import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { createAuditTrail } from '../../src/audit/trail.ts';
import { MAX_PERSONAL_TOKENS } from '../../src/personal-tokens/service.ts';
import { scheduledJobs } from '../../src/server.ts';
import {
  bearer,
  buildTestApp,
  createUser,
  describeEachEngine,
  signedIn,
  type TestApp,
  tokenFor,
} from '../helpers/app.ts';
import { thirdPartyToken } from '../helpers/browser-flow.ts';
import { resetByMail, startSmtp } from '../helpers/mail.ts';

const DAY_MS = 86_400_000;
const FORM_OF_TOKEN = /^ink_pat_[A-Za-z0-9_-]{43}$/;

function make(testApp: TestApp, token: string, payload: unknown) {
  return testApp.app.inject({
    method: 'POST',
    url: '/users/me/tokens',
    headers: bearer(token),
    payload: payload as object,
  });
}

async function made(
  testApp: TestApp,
  token: string,
  payload: object = { name: 'script', scopes: ['profile'] },
) {
  const response = await make(testApp, token, payload);
  assert.equal(response.statusCode, 201, response.body);
  return response.json() as { id: string; token: string; scopes: string[]; expires_at: string };
}

const me = (testApp: TestApp, token: string) =>
  testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });

const revoke = (testApp: TestApp, token: string, id: string) =>
  testApp.app.inject({ method: 'DELETE', url: `/users/me/tokens/${id}`, headers: bearer(token) });

/** The guard's refusal of a token that is not (or no longer) good. */
function refused(response: {
  statusCode: number;
  headers: Record<string, unknown>;
  json(): { code: string };
}) {
  assert.equal(response.statusCode, 401);
  assert.equal(response.json().code, 'invalid_token');
  assert.match(
    String(response.headers['www-authenticate']),
    /^Bearer realm="inkgate", error="invalid_token"/,
  );
}

const events = (testApp: TestApp, type: string) =>
  testApp.database.db.selectFrom('audit_events').selectAll().where('type', '=', type).execute();

describeEachEngine('personal access tokens', (engine) => {
  test('made once with ink_pat_ and 256 bits, stored as SHA-256 only, listed without the token, taken as a Bearer token with its scopes only [ASVS V7.2.3]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { user, token } = await signedIn(testApp);
    const response = await make(testApp, token, {
      name: '  backup script ',
      scopes: ['posts:write', 'profile'],
    });
    assert.equal(response.statusCode, 201, response.body);
    const body = response.json();
    const now = testApp.clock.now();
    assert.match(body.token, FORM_OF_TOKEN);
    assert.deepEqual(
      { ...body, id: undefined, token: undefined },
      {
        id: undefined,
        token: undefined,
        name: 'backup script',
        scopes: ['profile', 'posts:write'],
        created_at: now.toISOString(),
        last_used_at: null,
        expires_at: new Date(now.getTime() + 90 * DAY_MS).toISOString(),
      },
    );
    const [row] = await testApp.database.db.selectFrom('personal_tokens').selectAll().execute();
    assert.equal(row!.token_hash, createHash('sha256').update(body.token).digest('base64url'));
    assert.ok(!JSON.stringify(row).includes(body.token.slice(8)), 'the token is not stored');
    const [created] = await events(testApp, 'personal_token_created');
    assert.equal(created!.user_id, user.id);
    assert.deepEqual(JSON.parse(created!.details), {
      token_id: body.id,
      name: 'backup script',
      scopes: ['profile', 'posts:write'],
      expires_at: body.expires_at,
    });
    assert.ok(!created!.details.includes(body.token.slice(8)), 'no token in the event');

    const mine = await me(testApp, body.token);
    assert.equal(mine.statusCode, 200, mine.body);
    assert.equal(mine.json().id, user.id);
    const post = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: bearer(body.token),
      payload: { title: 'By script', content: 'Posted with a personal token.' },
    });
    assert.equal(post.statusCode, 201, post.body);

    const list = await testApp.app.inject({ method: 'GET', url: '/users/me/tokens', headers: bearer(token) });
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json().data, [
      {
        id: body.id,
        name: 'backup script',
        scopes: ['profile', 'posts:write'],
        created_at: body.created_at,
        last_used_at: now.toISOString(),
        expires_at: body.expires_at,
      },
    ]);
    assert.ok(!list.body.includes(body.token.slice(8)));
    // It is no session: the sessions list holds only the login.
    const sessions = await testApp.app.inject({
      method: 'GET',
      url: '/users/me/sessions',
      headers: bearer(body.token),
    });
    assert.equal(sessions.json().data.length, 1);
    assert.equal(sessions.json().data[0].current, false);
  });

  test('the scopes asked for and no more: a profile-only token cannot write posts; a demoted admin’s token loses admin at once [ASVS V8.3.2]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const profileOnly = await made(testApp, token, { name: 'reader', scopes: ['profile'] });
    const post = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: bearer(profileOnly.token),
      payload: { title: 'No', content: 'Not allowed.' },
    });
    assert.equal(post.statusCode, 403);
    assert.equal(post.json().code, 'insufficient_scope');

    const { user: admin, token: adminToken } = await signedIn(testApp, { role: 'admin' });
    const { token: otherAdmin } = await signedIn(testApp, { role: 'admin' });
    const adminPat = await made(testApp, adminToken, { name: 'ops', scopes: ['admin', 'profile'] });
    const users = () => testApp.app.inject({ method: 'GET', url: '/users', headers: bearer(adminPat.token) });
    assert.equal((await users()).statusCode, 200);
    const demoted = await testApp.app.inject({
      method: 'PATCH',
      url: `/users/${admin.id}`,
      headers: bearer(otherAdmin),
      payload: { role: 'user' },
    });
    assert.equal(demoted.statusCode, 200);
    const after = await users();
    assert.equal(after.statusCode, 403);
    assert.equal(after.json().code, 'insufficient_scope');
  });

  test('bad input is 422 and makes nothing; scopes beyond the caller’s token are refused', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { user } = await signedIn(testApp);
    const token = await tokenFor(testApp, user, 'profile');
    const cases: Array<[unknown, string]> = [
      [{ scopes: ['profile'] }, '/name'],
      [{ name: '   ', scopes: ['profile'] }, '/name'],
      [{ name: 'a\nb', scopes: ['profile'] }, '/name'],
      [{ name: 'x'.repeat(101), scopes: ['profile'] }, '/name'],
      [{ name: 'x' }, '/scopes'],
      [{ name: 'x', scopes: [] }, '/scopes'],
      [{ name: 'x', scopes: ['profile', 'profile'] }, '/scopes'],
      [{ name: 'x', scopes: ['root'] }, '/scopes/0'],
      [{ name: 'x', scopes: ['posts:write'] }, '/scopes'],
      [{ name: 'x', scopes: ['admin'] }, '/scopes'],
      [{ name: 'x', scopes: ['profile'], expires_in: 59 }, '/expires_in'],
      [{ name: 'x', scopes: ['profile'], expires_in: 365 * 86_400 + 1 }, '/expires_in'],
      [{ name: 'x', scopes: ['profile'], expires_in: 3600.5 }, '/expires_in'],
      [{ name: 'x', scopes: ['profile'], expires_in: '3600' }, '/expires_in'],
      [{ name: 'x', scopes: ['profile'], extra: true }, '/extra'],
    ];
    for (const [payload, path] of cases) {
      const response = await make(testApp, token, payload);
      assert.equal(response.statusCode, 422, `${JSON.stringify(payload)}: ${response.body}`);
      assert.ok(
        response.json().errors.some((error: { path: string }) => error.path.startsWith(path)),
        `${JSON.stringify(payload)}: ${response.body}`,
      );
    }
    assert.equal((await testApp.database.db.selectFrom('personal_tokens').selectAll().execute()).length, 0);
    assert.equal((await events(testApp, 'personal_token_created')).length, 0);
    // A year is the most; a chosen lifetime is honoured.
    const longest = await made(testApp, token, { name: 'x', scopes: ['profile'], expires_in: 365 * 86_400 });
    assert.equal(longest.expires_at, new Date(testApp.clock.now().getTime() + 365 * DAY_MS).toISOString());
  });

  test('only a first-party sign-in makes one: not a personal token, not a third-party app’s token (403, nothing made)', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const pat = await made(testApp, await tokenFor(testApp, user));
    const byPat = await make(testApp, pat.token, { name: 'another', scopes: ['profile'] });
    assert.equal(byPat.statusCode, 403);
    assert.equal(byPat.json().code, 'personal_token_refused');
    assert.equal(byPat.json().detail, 'a personal access token cannot create another');
    const appToken = await thirdPartyToken(testApp, user, 'profile');
    const byApp = await make(testApp, appToken, { name: 'escape', scopes: ['profile'] });
    assert.equal(byApp.statusCode, 403);
    assert.equal(byApp.json().code, 'personal_token_refused');
    assert.match(byApp.json().detail, /^a third-party app cannot/);
    assert.equal((await testApp.database.db.selectFrom('personal_tokens').selectAll().execute()).length, 1);
  });

  test('DELETE revokes it at once; a second DELETE, another user’s id or a non-id is 404; tampered, truncated and expired tokens are refused', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { user, token } = await signedIn(testApp);
    const { token: otherToken } = await signedIn(testApp);
    const pat = await made(testApp, token);
    const short = await made(testApp, token, { name: 'short', scopes: ['profile'], expires_in: 60 });
    assert.equal((await me(testApp, pat.token)).statusCode, 200);

    // One character changed, the prefix alone, one character short: never a match.
    const last = pat.token.at(-1) === 'A' ? 'B' : 'A';
    refused(await me(testApp, pat.token.slice(0, -1) + last));
    refused(await me(testApp, 'ink_pat_'));
    refused(await me(testApp, pat.token.slice(0, -1)));

    for (const [caller, id] of [
      [otherToken, pat.id],
      [token, uuidv7()],
      [token, 'not-a-uuid'],
    ] as const) {
      const response = await revoke(testApp, caller, id);
      assert.equal(response.statusCode, 404);
      assert.equal(response.json().code, 'personal_token_not_found');
    }
    assert.equal((await me(testApp, pat.token)).statusCode, 200, 'another user cannot revoke it');

    assert.equal((await revoke(testApp, token, pat.id)).statusCode, 204);
    refused(await me(testApp, pat.token));
    assert.equal((await revoke(testApp, token, pat.id)).statusCode, 404);
    const [revoked] = await events(testApp, 'personal_token_revoked');
    assert.equal(revoked!.user_id, user.id);
    assert.deepEqual(JSON.parse(revoked!.details), { token_id: pat.id, name: 'script', reason: 'revoked' });

    assert.equal((await me(testApp, short.token)).statusCode, 200);
    testApp.clock.advance(61_000);
    refused(await me(testApp, short.token));
    const list = await testApp.app.inject({
      method: 'GET',
      url: '/users/me/tokens',
      headers: bearer(await tokenFor(testApp, user)),
    });
    assert.deepEqual(list.json().data, [], 'neither a revoked nor an expired token is listed');
  });

  test(`an account holds at most ${MAX_PERSONAL_TOKENS} live tokens; two creations racing for the last place make one`, async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    for (let i = 0; i < MAX_PERSONAL_TOKENS - 1; i += 1)
      await made(testApp, token, { name: `t${i}`, scopes: ['profile'] });
    const racing = await Promise.all([
      make(testApp, token, { name: 'a', scopes: ['profile'] }),
      make(testApp, token, { name: 'b', scopes: ['profile'] }),
    ]);
    assert.deepEqual(racing.map((response) => response.statusCode).sort(), [201, 409]);
    const full = racing.find((response) => response.statusCode === 409)!;
    assert.equal(full.json().code, 'personal_token_limit');
    const rows = await testApp.database.db.selectFrom('personal_tokens').select('id').execute();
    assert.equal(rows.length, MAX_PERSONAL_TOKENS);
  });

  test('disabling the user ends them for good; deleting the user ends them; a password change and logout everywhere do not', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token: adminToken } = await signedIn(testApp, { role: 'admin' });
    const user = await createUser(testApp);
    const login = await tokenFor(testApp, user);
    const pat = await made(testApp, login);

    const changed = await testApp.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: bearer(login),
      payload: { current_password: user.password, new_password: 'another long passphrase' },
    });
    assert.equal(changed.statusCode, 204, changed.body);
    const everywhere = await testApp.app.inject({
      method: 'DELETE',
      url: '/users/me/sessions',
      headers: bearer(pat.token),
    });
    assert.equal(everywhere.statusCode, 204);
    assert.equal((await me(testApp, pat.token)).statusCode, 200, 'a script keeps working');

    const setDisabled = (disabled: boolean) =>
      testApp.app.inject({
        method: 'PATCH',
        url: `/users/${user.id}`,
        headers: bearer(adminToken),
        payload: { disabled },
      });
    assert.equal((await setDisabled(true)).statusCode, 200);
    refused(await me(testApp, pat.token));
    assert.equal((await setDisabled(false)).statusCode, 200);
    refused(await me(testApp, pat.token));
    const ended = await events(testApp, 'personal_token_revoked');
    assert.deepEqual(
      ended.map((event) => JSON.parse(event.details).reason),
      ['user_disabled'],
    );

    const again = await made(
      testApp,
      await tokenFor(testApp, { ...user, password: 'another long passphrase' }),
    );
    assert.equal((await me(testApp, again.token)).statusCode, 200);
    const deleted = await testApp.app.inject({
      method: 'DELETE',
      url: `/users/${user.id}`,
      headers: bearer(adminToken),
    });
    assert.equal(deleted.statusCode, 204);
    refused(await me(testApp, again.token));
    assert.equal((await testApp.database.db.selectFrom('personal_tokens').selectAll().execute()).length, 0);
  });

  test('a password reset ends them', async (t) => {
    const smtp = await startSmtp(t);
    const testApp = await buildTestApp(t, {
      engine,
      env: { SMTP_URL: smtp.url, APP_URL: 'https://blog.example.com' },
    });
    const user = await createUser(testApp);
    await smtp.next(user.email); // the signup's verification
    const pat = await made(testApp, await tokenFor(testApp, user));
    await resetByMail(testApp, smtp, user.email, 'a brand new passphrase');
    refused(await me(testApp, pat.token));
    const [ended] = await events(testApp, 'personal_token_revoked');
    assert.deepEqual(JSON.parse(ended!.details), { token_id: pat.id, reason: 'password_reset' });
  });

  test('the last use is recorded to the minute, after the answer; the purge job deletes tokens a day after they end', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const pat = await made(testApp, token, { name: 'x', scopes: ['profile'], expires_in: 3600 });
    const lastUsed = async () =>
      (
        await testApp.database.db
          .selectFrom('personal_tokens')
          .select('last_used_at')
          .executeTakeFirstOrThrow()
      ).last_used_at;
    // The use is written after the answer: wait for it (real time; the test's clock stands still).
    const recorded = async (at: Date) => {
      for (let i = 0; i < 200 && (await lastUsed())?.getTime() !== at.getTime(); i += 1)
        await new Promise((resolve) => setTimeout(resolve, 10));
      return (await lastUsed())?.getTime();
    };
    const firstUse = testApp.clock.now();
    await me(testApp, pat.token);
    assert.equal(await recorded(firstUse), firstUse.getTime());
    testApp.clock.advance(30_000);
    await me(testApp, pat.token);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await lastUsed())?.getTime(), firstUse.getTime(), 'not within the minute');
    testApp.clock.advance(31_000);
    await me(testApp, pat.token);
    assert.equal(await recorded(testApp.clock.now()), testApp.clock.now().getTime());

    const [purge] = scheduledJobs(
      testApp.config,
      testApp.database,
      createAuditTrail({ db: testApp.database.db, clock: testApp.clock }),
    );
    testApp.clock.advance(3600_000);
    assert.equal((await purge!.run(testApp.clock.now())).personalTokens, 0, 'ended less than a day ago');
    testApp.clock.advance(DAY_MS);
    assert.equal((await purge!.run(testApp.clock.now())).personalTokens, 1);
  });
});
