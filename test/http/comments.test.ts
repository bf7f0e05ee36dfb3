import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, createUser, describeEachEngine, signedIn, tokenFor } from '../helpers/app.ts';
import { call, writePost } from '../helpers/blog.ts';

describeEachEngine('comments', (engine) => {
  test('create and list: numbered 1, 2, … in their post, oldest first, paged; counted on the post', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const author = await signedIn(testApp);
    const reader = await signedIn(testApp);
    const post = await writePost(testApp, author.token);
    const first = await call(testApp, 'POST', `/posts/${post.id}/comments`, reader.token, {
      body: '  Thanks! See [this](https://example.com) and ![img](https://example.com/a.png)  ',
    });
    assert.equal(first.statusCode, 201, first.body);
    const comment = first.json();
    assert.deepEqual(Object.keys(comment).sort(), [
      'author',
      'body',
      'created_at',
      'html',
      'id',
      'number',
      'status',
      'updated_at',
    ]);
    assert.equal(comment.number, 1);
    assert.equal(comment.status, 'visible');
    assert.equal(
      comment.body,
      'Thanks! See [this](https://example.com) and ![img](https://example.com/a.png)',
    );
    assert.match(comment.html, /<a href="https:\/\/example.com" rel="nofollow ugc noopener">this<\/a>/);
    assert.doesNotMatch(comment.html, /<img/, 'no images in comments');
    assert.deepEqual(comment.author, { id: reader.user.id, username: reader.user.username });
    for (let i = 2; i <= 5; i += 1) {
      testApp.clock.advance(1);
      const next = await call(testApp, 'POST', `/posts/${post.id}/comments`, author.token, {
        body: `comment ${i}`,
      });
      assert.equal(next.json().number, i);
    }
    const page = await call(testApp, 'GET', `/posts/${post.id}/comments?limit=2`);
    assert.equal(page.statusCode, 200);
    assert.deepEqual(
      page.json().data.map((c: { number: number }) => c.number),
      [1, 2],
    );
    const rest = await call(
      testApp,
      'GET',
      `/posts/${post.id}/comments?limit=10&cursor=${page.json().next_cursor}`,
    );
    assert.deepEqual(
      rest.json().data.map((c: { number: number }) => c.number),
      [3, 4, 5],
    );
    assert.equal(rest.json().next_cursor, null);
    assert.equal((await call(testApp, 'GET', `/posts/${post.id}`)).json().comments_count, 5);
    assert.equal((await call(testApp, 'GET', `/posts/${post.id}/comments?cursor=nope`)).statusCode, 422);
  });

  test('numbers stay unique when comments arrive at once', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const post = await writePost(testApp, token);
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        call(testApp, 'POST', `/posts/${post.id}/comments`, token, { body: `c${i}` }),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.json().number).sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.equal((await call(testApp, 'GET', `/posts/${post.id}`)).json().comments_count, 8);
  });

  test('errors: 401, 403 without comments:write, 422 for a bad body, 404 for a missing or unpublished post', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token, user } = await signedIn(testApp);
    const post = await writePost(testApp, token);
    const draft = await writePost(testApp, token, { status: 'draft' });
    const url = `/posts/${post.id}/comments`;
    assert.equal((await call(testApp, 'POST', url, undefined, { body: 'x' })).statusCode, 401);
    const narrow = await tokenFor(testApp, user, 'profile posts:write');
    const refused = await call(testApp, 'POST', url, narrow, { body: 'x' });
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.json().code, 'insufficient_scope');
    for (const [payload, path] of [
      [{ body: '   ' }, '/body'],
      [{ body: 'x'.repeat(5001) }, '/body'],
      [{}, '/body'],
      [{ body: 'x', status: 'visible' }, '/status'],
    ] as const) {
      const bad = await call(testApp, 'POST', url, token, payload);
      assert.equal(bad.statusCode, 422, JSON.stringify(payload));
      assert.ok(
        bad.json().errors.some((e: { path: string }) => e.path === path),
        bad.body,
      );
    }
    for (const target of [`/posts/${draft.id}/comments`, '/posts/not-a-uuid/comments']) {
      assert.equal((await call(testApp, 'POST', target, token, { body: 'x' })).statusCode, 404);
      assert.equal((await call(testApp, 'GET', target)).statusCode, 404);
    }
    assert.deepEqual((await call(testApp, 'GET', url)).json().data, [], 'nothing was stored');
  });

  test('edit and delete: the author changes the text; the post’s author or an admin deletes; others 403', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const author = await signedIn(testApp);
    const writer = await signedIn(testApp);
    const stranger = await signedIn(testApp);
    const admin = await createUser(testApp, { role: 'admin' });
    const adminToken = await tokenFor(testApp, admin);
    const post = await writePost(testApp, author.token);
    const made = async () =>
      (
        await call(testApp, 'POST', `/posts/${post.id}/comments`, writer.token, { body: 'first words' })
      ).json();
    const comment = await made();
    testApp.clock.advance(1000);
    const edited = await call(testApp, 'PATCH', `/comments/${comment.id}`, writer.token, {
      body: 'better *words*',
    });
    assert.equal(edited.statusCode, 200);
    assert.equal(edited.json().html, '<p>better <em>words</em></p>');
    assert.notEqual(edited.json().updated_at, comment.updated_at);
    for (const token of [stranger.token, author.token, adminToken]) {
      const refused = await call(testApp, 'PATCH', `/comments/${comment.id}`, token, { body: 'hijack' });
      assert.equal(refused.statusCode, 403, 'only its author changes the text');
      assert.equal(refused.json().code, 'not_comment_author');
    }
    assert.equal((await call(testApp, 'DELETE', `/comments/${comment.id}`, stranger.token)).statusCode, 403);
    assert.equal((await call(testApp, 'DELETE', `/comments/${comment.id}`, author.token)).statusCode, 204);
    assert.equal((await call(testApp, 'DELETE', `/comments/${comment.id}`, author.token)).statusCode, 404);
    assert.equal(
      (await call(testApp, 'DELETE', `/comments/${(await made()).id}`, adminToken)).statusCode,
      204,
    );
    assert.equal(
      (await call(testApp, 'DELETE', `/comments/${(await made()).id}`, writer.token)).statusCode,
      204,
    );
    assert.equal((await call(testApp, 'GET', `/posts/${post.id}`)).json().comments_count, 0);
    assert.equal((await call(testApp, 'PATCH', `/comments/${comment.id}`, writer.token, {})).statusCode, 422);
    assert.equal(
      (await call(testApp, 'PATCH', '/comments/nope', writer.token, { body: 'x' })).statusCode,
      404,
    );
  });

  test('a post deleted takes its comments; a post unpublished hides them (404)', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const post = await writePost(testApp, token);
    const comment = (await call(testApp, 'POST', `/posts/${post.id}/comments`, token, { body: 'x' })).json();
    await call(testApp, 'PATCH', `/posts/${post.id}`, token, { status: 'draft' });
    assert.equal((await call(testApp, 'GET', `/posts/${post.id}/comments`)).statusCode, 404);
    assert.equal(
      (await call(testApp, 'PATCH', `/comments/${comment.id}`, token, { body: 'y' })).statusCode,
      404,
    );
    await call(testApp, 'DELETE', `/posts/${post.id}`, token);
    assert.equal((await call(testApp, 'DELETE', `/comments/${comment.id}`, token)).statusCode, 404);
  });
});

test('COMMENTS=moderated: pending until the post’s author sets it visible (audited); seen only by those three', async (t) => {
  const testApp = await buildTestApp(t, { env: { COMMENTS: 'moderated' } });
  const author = await signedIn(testApp);
  const writer = await signedIn(testApp);
  const stranger = await signedIn(testApp);
  const post = await writePost(testApp, author.token);
  const created = await call(testApp, 'POST', `/posts/${post.id}/comments`, writer.token, { body: 'hello' });
  assert.equal(created.json().status, 'pending');
  const id = created.json().id;
  const list = (token?: string) =>
    call(testApp, 'GET', `/posts/${post.id}/comments`, token).then((r) =>
      r.json().data.map((c: { id: string }) => c.id),
    );
  assert.deepEqual(await list(), []);
  assert.deepEqual(await list(stranger.token), []);
  assert.deepEqual(await list(writer.token), [id]);
  assert.deepEqual(await list(author.token), [id]);
  assert.equal(
    (await call(testApp, 'GET', `/posts/${post.id}`)).json().comments_count,
    0,
    'pending is not counted',
  );
  assert.doesNotMatch((await call(testApp, 'GET', `/p/${post.slug}`)).body, /hello/);
  const byWriter = await call(testApp, 'PATCH', `/comments/${id}`, writer.token, { status: 'visible' });
  assert.equal(byWriter.statusCode, 403, 'its writer cannot approve it');
  assert.equal(
    (await call(testApp, 'PATCH', `/comments/${id}`, stranger.token, { status: 'visible' })).statusCode,
    404,
  );
  const approved = await call(testApp, 'PATCH', `/comments/${id}`, author.token, { status: 'visible' });
  assert.equal(approved.statusCode, 200);
  assert.equal(approved.json().status, 'visible');
  assert.deepEqual(await list(), [id]);
  assert.equal((await call(testApp, 'GET', `/posts/${post.id}`)).json().comments_count, 1);
  const events = await testApp.database.db
    .selectFrom('audit_events')
    .selectAll()
    .where('type', '=', 'comment_moderated')
    .execute();
  assert.equal(events.length, 1);
  assert.equal(events[0]!.user_id, writer.user.id);
  assert.equal(events[0]!.actor_id, author.user.id);
  assert.deepEqual(JSON.parse(events[0]!.details), {
    comment_id: id,
    post_id: post.id,
    from: 'pending',
    to: 'visible',
  });
  const hidden = await call(testApp, 'PATCH', `/comments/${id}`, author.token, { status: 'pending' });
  assert.equal(hidden.statusCode, 200);
  assert.equal((await call(testApp, 'GET', `/posts/${post.id}`)).json().comments_count, 0);
});

test('COMMENTS=off: a new comment is 403 comments_off', async (t) => {
  const testApp = await buildTestApp(t, { env: { COMMENTS: 'off' } });
  const { token } = await signedIn(testApp);
  const post = await writePost(testApp, token);
  const refused = await call(testApp, 'POST', `/posts/${post.id}/comments`, token, { body: 'x' });
  assert.equal(refused.statusCode, 403);
  assert.equal(refused.json().code, 'comments_off');
});

test('RATE_LIMIT_COMMENTS: the next comment in the minute is 429 with Retry-After and RateLimit', async (t) => {
  const testApp = await buildTestApp(t, { env: { RATE_LIMIT_COMMENTS: '2' } });
  const { token } = await signedIn(testApp);
  const post = await writePost(testApp, token);
  for (let i = 0; i < 2; i += 1) {
    const ok = await call(testApp, 'POST', `/posts/${post.id}/comments`, token, { body: `c${i}` });
    assert.equal(ok.statusCode, 201);
    assert.ok(ok.headers.ratelimit);
  }
  const limited = await call(testApp, 'POST', `/posts/${post.id}/comments`, token, { body: 'c3' });
  assert.equal(limited.statusCode, 429);
  assert.ok(Number(limited.headers['retry-after']) > 0);
  assert.equal((await call(testApp, 'GET', `/posts/${post.id}/comments`)).json().data.length, 2);
});
