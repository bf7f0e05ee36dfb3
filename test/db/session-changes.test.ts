import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJwt } from 'jose';
import { CHANGES_KEPT_MS, createChangeFeed, purgeChanges } from '../../src/db/change-feed.ts';
import { hashPersonalToken, personalTokenKey } from '../../src/personal-tokens/format.ts';
import {
  bearer,
  buildTestApp,
  createStorage,
  createUser,
  describeEachEngine,
  loginPair,
  openTestDatabase,
  signedIn,
} from '../helpers/app.ts';

describeEachEngine('the session change feed', (engine) => {
  test('every change to a session, a user or a personal token adds a row in its own transaction; a rolled-back one none; each is read once', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { db } = testApp.database;
    const feed = createChangeFeed(db, 'session_changes');
    await feed.look(); // from here on
    const user = await createUser(testApp);
    const pair = await loginPair(testApp, user);
    const sid = decodeJwt(pair.access_token).sid as string;
    assert.deepEqual((await feed.look()).changes, [], 'a signup and a new session change nothing cached');

    const ended = await testApp.app.inject({
      method: 'DELETE',
      url: `/users/me/sessions/${sid}`,
      headers: bearer(pair.access_token),
    });
    assert.equal(ended.statusCode, 204);
    assert.deepEqual(await feed.look(), { changes: [{ kind: 'session', subject: sid }], complete: true });
    assert.deepEqual((await feed.look()).changes, [], 'read once');

    const { token } = await signedIn(testApp);
    const made = await testApp.app.inject({
      method: 'POST',
      url: '/users/me/tokens',
      headers: bearer(token),
      payload: { name: 'script', scopes: ['profile'] },
    });
    assert.equal(made.statusCode, 201);
    const pat = made.json() as { id: string; token: string };
    await feed.look();
    await testApp.app.inject({ method: 'DELETE', url: `/users/me/tokens/${pat.id}`, headers: bearer(token) });
    assert.deepEqual((await feed.look()).changes, [
      { kind: 'session', subject: personalTokenKey(hashPersonalToken(pat.token)) },
    ]);

    await db.updateTable('users').set({ full_name: 'Changed by hand' }).where('id', '=', user.id).execute();
    assert.deepEqual(
      (await feed.look()).changes,
      [{ kind: 'user', subject: user.id }],
      'any write, not only the app’s',
    );

    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.updateTable('users').set({ disabled: true }).where('id', '=', user.id).execute();
        throw new Error('rolled back');
      }),
    );
    assert.deepEqual((await feed.look()).changes, [], 'a change that rolled back leaves no row');

    await db.deleteFrom('users').where('id', '=', user.id).execute();
    assert.deepEqual(
      (await feed.look()).changes.filter((change) => change.kind === 'user'),
      [{ kind: 'user', subject: user.id }],
      'a deleted user',
    );
  });

  test('a look that finds more rows than it reads says so (the cache then forgets everything)', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { db } = testApp.database;
    const feed = createChangeFeed(db, 'session_changes', 3);
    await feed.look();
    const user = await createUser(testApp);
    for (const name of ['a', 'b']) {
      await db.updateTable('users').set({ full_name: name }).where('id', '=', user.id).execute();
    }
    assert.equal((await feed.look()).complete, true, 'two rows of three');
    for (const name of ['c', 'd', 'e']) {
      await db.updateTable('users').set({ full_name: name }).where('id', '=', user.id).execute();
    }
    assert.equal((await feed.look()).complete, false, 'three rows of three: perhaps more');
  });

  test('the purge deletes the rows older than an hour by the database’s clock, and keeps the rest (each change table)', async (t) => {
    const { db } = await openTestDatabase(t, engine);
    const old = new Date(Date.now() - CHANGES_KEPT_MS - 60_000);
    for (const table of ['session_changes', 'content_changes'] as const) {
      await db.insertInto(table).values({ kind: 'user', subject: 'old', at: old }).execute();
      await db.insertInto(table).values({ kind: 'user', subject: 'new' }).execute();
      assert.equal(await purgeChanges(db, table), 1, table);
      const left = await db.selectFrom(table).select('subject').execute();
      assert.deepEqual(
        left.map((row) => row.subject),
        ['new'],
        table,
      );
    }
  });

  if (engine === 'postgres') {
    test('a change that commits after a later one is still read: PostgreSQL’s ids do not commit in order', async (t) => {
      const url = await createStorage(t, engine);
      const first = await openTestDatabase(t, engine, { url });
      const second = await openTestDatabase(t, engine, { url });
      const reader = createChangeFeed(second.db, 'session_changes');
      await reader.look();
      await second.db
        .insertInto('session_changes')
        .values([{ kind: 'user', subject: 'warm-up' }])
        .execute();
      await reader.look();

      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let wrote!: (id: number) => void;
      const written = new Promise<number>((resolve) => {
        wrote = resolve;
      });
      // The earlier transaction takes its id first and commits last.
      const slow = first.db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('session_changes')
          .values({ kind: 'user', subject: 'slow' })
          .returning('id')
          .executeTakeFirstOrThrow();
        wrote(Number(row.id));
        await held;
      });
      try {
        const slowId = await written;
        const fast = await second.db
          .insertInto('session_changes')
          .values({ kind: 'user', subject: 'fast' })
          .returning('id')
          .executeTakeFirstOrThrow();
        assert.ok(slowId < Number(fast.id), 'the slow row has the smaller id');
        assert.deepEqual((await reader.look()).changes, [{ kind: 'user', subject: 'fast' }]);
      } finally {
        release();
        await slow;
      }
      assert.deepEqual(
        (await reader.look()).changes,
        [{ kind: 'user', subject: 'slow' }],
        'read once it committed, though its id is below one already read',
      );
      assert.deepEqual((await reader.look()).changes, [], 'and neither again');
    });
  }
});
