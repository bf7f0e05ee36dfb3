import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJwt } from 'jose';
import { createAuditTrail } from '../../src/audit/trail.ts';
import { claimJob } from '../../src/db/scheduled-jobs.ts';
import { scheduledJobs } from '../../src/server.ts';
import {
  bearer,
  buildTestApp,
  createStorage,
  createUser,
  describeEachEngine,
  loginPair,
  openTestDatabase,
  refresh,
} from '../helpers/app.ts';

const DAY = 86_400_000;

describeEachEngine('scheduled purge', (engine) => {
  test('deletes sessions ended over a day ago, spent refresh tokens older than the idle period and stale login addresses; keeps the rest', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { SESSION_IDLE_DAYS: '7' } });
    const { db } = testApp.database;
    const user = await createUser(testApp);
    const revoked = await loginPair(testApp, user);
    await testApp.app.inject({
      method: 'DELETE',
      url: `/users/me/sessions/${decodeJwt(revoked.access_token).sid}`,
      headers: bearer(revoked.access_token),
    });
    const live = await loginPair(testApp, user);
    const spent = live.refresh_token;
    const next = (await refresh(testApp, spent)).json();
    // The live session is used every 5 days; the first refresh token was spent 10 days ago (past the
    // 7-day idle period), and the revoked session ended 10 days ago.
    testApp.clock.advance(5 * DAY);
    const middle = (await refresh(testApp, next.refresh_token)).json();
    testApp.clock.advance(5 * DAY);
    const kept = await refresh(testApp, middle.refresh_token);
    assert.equal(kept.statusCode, 200);

    const [purge] = scheduledJobs(
      testApp.config,
      testApp.database,
      createAuditTrail({ db: testApp.database.db, clock: testApp.clock }),
    );
    const done = await purge!.run(testApp.clock.now());
    // The signup's verification link (24 h) expired; its message, sent 10 days ago, is past the week kept.
    const { mail, ...rest } = done;
    assert.deepEqual(rest, {
      sessions: 1,
      refreshTokens: 1,
      // Its rows are an hour old by the database's clock, which the manual one does not move.
      sessionChanges: 0,
      contentChanges: 0,
      personalTokens: 0,
      loginAddresses: 0,
      accountTokens: 1,
      authorizationCodes: 0,
      pendingSignIns: 0,
      webauthnChallenges: 0,
    });
    assert.ok(mail === 0 || mail === 1);
    const sessions = await db.selectFrom('sessions').select('id').execute();
    assert.deepEqual(
      sessions.map((row) => row.id),
      [decodeJwt(live.access_token).sid],
    );
    assert.equal(
      (await refresh(testApp, kept.json().refresh_token)).statusCode,
      200,
      'the live session still works',
    );

    testApp.clock.advance(31 * DAY);
    const later = await purge!.run(testApp.clock.now());
    assert.equal(later.loginAddresses, 1, 'the address is forgotten 30 days after the last login');
  });

  test('one run per period across instances: of two claims at once, exactly one wins', async (t) => {
    const url = engine === 'sqlite' ? await createStorage(t) : await createStorage(t, engine);
    const a = await openTestDatabase(t, engine, { url });
    const b = await openTestDatabase(t, engine, { url });
    const now = new Date('2026-06-01T00:00:00Z');
    const claims = await Promise.all([
      claimJob(a.db, 'purge', 3_600_000, now),
      claimJob(b.db, 'purge', 3_600_000, now),
    ]);
    assert.deepEqual(claims.sort(), [false, true]);
    assert.equal(
      await claimJob(a.db, 'purge', 3_600_000, new Date(now.getTime() + 1_800_000)),
      false,
      'not due yet',
    );
    assert.equal(
      await claimJob(b.db, 'purge', 3_600_000, new Date(now.getTime() + 3_600_000)),
      true,
      'due again',
    );
  });
});
