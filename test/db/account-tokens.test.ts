import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAccountTokens } from '../../src/recovery/tokens.ts';
import { buildTestApp, createUser, describeEachEngine } from '../helpers/app.ts';

describeEachEngine('account tokens', (engine) => {
  test('spend checks the link again inside its transaction: a password or address changed after check voids it, and nothing is spent', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { db } = testApp.database;
    const tokens = createAccountTokens(db);
    const now = testApp.clock.now();
    const userRow = async (id: string) =>
      db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    for (const [purpose, change] of [
      ['password_reset', { password_hash: '$argon2id$v=19$m=19456,t=2,p=1$changed$changed' }],
      ['password_reset', { email: `moved-${Date.now()}@example.com` }],
      ['email_verification', { email: `moved-again-${Date.now()}@example.com` }],
    ] as const) {
      const { id } = await createUser(testApp);
      const token = await tokens.issue(db, { purpose, user: await userRow(id), now, ttlSeconds: 600 });
      assert.equal((await tokens.check(token, purpose, now))?.id, id, 'good when checked');
      // What a concurrent request does between the check and the spend.
      await db.updateTable('users').set(change).where('id', '=', id).execute();
      const spent = await db.transaction().execute((trx) => tokens.spend(trx, token, purpose, now));
      assert.equal(spent, undefined, `${purpose} after ${Object.keys(change)[0]} changed`);
      const left = await db
        .selectFrom('account_tokens')
        .select('user_id')
        .where('user_id', '=', id)
        .where('purpose', '=', purpose)
        .execute();
      assert.equal(left.length, 1, 'a refused spend deletes nothing');
    }

    // The positive control: unchanged, it is spent once, and then no more.
    const { id } = await createUser(testApp);
    const token = await tokens.issue(db, {
      purpose: 'password_reset',
      user: await userRow(id),
      now,
      ttlSeconds: 600,
    });
    const spend = () => db.transaction().execute((trx) => tokens.spend(trx, token, 'password_reset', now));
    assert.equal((await spend())?.id, id);
    assert.equal(await spend(), undefined);
    const expired = await tokens.issue(db, {
      purpose: 'password_reset',
      user: await userRow(id),
      now,
      ttlSeconds: 600,
    });
    const later = new Date(now.getTime() + 600_000);
    assert.equal(
      await db.transaction().execute((trx) => tokens.spend(trx, expired, 'password_reset', later)),
      undefined,
      'expired by the clock passed in',
    );
  });
});
