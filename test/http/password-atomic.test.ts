import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from '../../src/db/kysely.ts';
import {
  bearer,
  buildTestApp,
  createUser,
  describeEachEngine,
  type EngineName,
  loginPair,
  refresh,
  type TestApp,
} from '../helpers/app.ts';
import { linkIn, startSmtp } from '../helpers/mail.ts';

/** Makes every revocation of a session fail in the database, as a lost connection mid-way would. */
async function failRevocations(testApp: TestApp, engine: EngineName): Promise<() => Promise<void>> {
  const { db } = testApp.database;
  if (engine === 'sqlite') {
    await sql`create trigger refuse_revocation before update of revoked_at on sessions
      begin select raise(abort, 'injected failure'); end`.execute(db);
    return async () => void (await sql`drop trigger refuse_revocation`.execute(db));
  }
  await sql`create function refuse_revocation() returns trigger language plpgsql
    as $$ begin raise exception 'injected failure'; end $$`.execute(db);
  await sql`create trigger refuse_revocation before update of revoked_at on sessions
    for each row execute function refuse_revocation()`.execute(db);
  return async () => void (await sql`drop function refuse_revocation() cascade`.execute(db));
}

const events = (testApp: TestApp, type: string) =>
  testApp.database.db.selectFrom('audit_events').select('id').where('type', '=', type).execute();

describeEachEngine('password changes end sessions atomically', (engine) => {
  test('POST /users/me/password: when ending the other sessions fails, the password is not changed either [ASVS V7.4.3]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const user = await createUser(testApp);
    const current = await loginPair(testApp, user);
    const attacker = await loginPair(testApp, user);
    const restore = await failRevocations(testApp, engine);
    const change = await testApp.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: bearer(current.access_token),
      payload: { current_password: user.password, new_password: 'a new and better passphrase' },
    });
    assert.equal(change.statusCode, 500, 'the injected database failure');
    await restore();
    // Nothing happened: the old password still signs in, the new one does not, no event was kept.
    await loginPair(testApp, user);
    await assert.rejects(loginPair(testApp, { ...user, password: 'a new and better passphrase' }));
    assert.equal((await events(testApp, 'password_changed')).length, 0);
    assert.equal((await refresh(testApp, attacker.refresh_token)).statusCode, 200, 'and no session ended');

    // The positive control: without the failure the change and the revocation happen together.
    const retried = await testApp.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: bearer(current.access_token),
      payload: { current_password: user.password, new_password: 'a new and better passphrase' },
    });
    assert.equal(retried.statusCode, 204);
    const other = await loginPair(testApp, { ...user, password: 'a new and better passphrase' });
    assert.ok(other.access_token);
    assert.equal((await events(testApp, 'password_changed')).length, 1);
  });

  test('POST /password-resets/confirm: when ending the sessions fails, the password is not set and the link stays good [ASVS V6.4.3]', async (t) => {
    const smtp = await startSmtp(t);
    const testApp = await buildTestApp(t, {
      engine,
      env: { SMTP_URL: smtp.url, APP_URL: 'https://blog.example.com' },
    });
    const user = await createUser(testApp);
    await smtp.next(user.email); // the signup's verification
    const attacker = await loginPair(testApp, user);
    await testApp.app.inject({ method: 'POST', url: '/password-resets', payload: { email: user.email } });
    const { token } = linkIn(await smtp.next(user.email));
    const confirm = () =>
      testApp.app.inject({
        method: 'POST',
        url: '/password-resets/confirm',
        payload: { token, new_password: 'reset to this passphrase' },
      });
    const restore = await failRevocations(testApp, engine);
    assert.equal((await confirm()).statusCode, 500, 'the injected database failure');
    await restore();
    await loginPair(testApp, user);
    assert.equal((await events(testApp, 'password_reset_completed')).length, 0);
    assert.equal((await refresh(testApp, attacker.refresh_token)).statusCode, 200);

    assert.equal((await confirm()).statusCode, 204, 'the link was not spent');
    assert.equal((await refresh(testApp, attacker.refresh_token)).statusCode, 400, 'now every session ended');
    await assert.rejects(loginPair(testApp, user));
  });
});
