import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createChangeFeed } from '../../src/db/change-feed.ts';
import type { ContentChange } from '../../src/posts/service.ts';
import { buildTestApp, createUser, describeEachEngine, signedIn } from '../helpers/app.ts';
import { call, writePost } from '../helpers/blog.ts';

/** The changes as a set of "kind subject" (the order of one statement's rows is the database's). */
const named = (changes: readonly ContentChange[]) =>
  [...new Set(changes.map(({ kind, subject }) => `${kind} ${subject}`))].sort();

describeEachEngine('the content change feed', (engine) => {
  test('every change anyone’s view shows adds a row in its own transaction (a post, its slugs and tags, a comment, an author’s profile); what shows nowhere and what rolled back add none', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { db } = testApp.database;
    const feed = createChangeFeed<ContentChange['kind']>(db, 'content_changes');
    await feed.look(); // from here on
    const { user, token } = await signedIn(testApp);
    await createUser(testApp);
    assert.deepEqual((await feed.look()).changes, [], 'a signup and a login show nowhere');

    const post = await writePost(testApp, token, { title: 'Watched', tags: ['lighthouses'] });
    const tag = await db
      .selectFrom('tags')
      .select('id')
      .where('slug', '=', 'lighthouses')
      .executeTakeFirstOrThrow();
    assert.deepEqual(named((await feed.look()).changes), [`post ${post.id}`, `tag ${tag.id}`]);

    assert.equal(
      (await call(testApp, 'PATCH', `/posts/${post.id}`, token, { title: 'Renamed' })).statusCode,
      200,
    );
    assert.deepEqual(named((await feed.look()).changes), [`post ${post.id}`]);

    const comment = await call(testApp, 'POST', `/posts/${post.id}/comments`, token, { body: 'A remark.' });
    assert.equal(comment.statusCode, 201);
    assert.ok(
      named((await feed.look()).changes).includes(`comment ${post.id}`),
      'a comment names the post whose page shows it',
    );

    const renamed = await call(testApp, 'PATCH', '/users/me', token, { bio: 'Keeps lights.' });
    assert.equal(renamed.statusCode, 200, renamed.body);
    assert.deepEqual(named((await feed.look()).changes), [`user ${user.id}`]);
    await db.updateTable('users').set({ email_verified: true }).where('id', '=', user.id).execute();
    assert.deepEqual((await feed.look()).changes, [], 'what no page shows of a user');

    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.updateTable('posts').set({ status: 'draft' }).where('id', '=', post.id).execute();
        throw new Error('rolled back');
      }),
    );
    assert.deepEqual((await feed.look()).changes, [], 'a change that rolled back leaves no row');

    assert.equal((await call(testApp, 'DELETE', `/posts/${post.id}`, token)).statusCode, 204);
    assert.ok(named((await feed.look()).changes).includes(`post ${post.id}`), 'a deleted post');
  });
});
