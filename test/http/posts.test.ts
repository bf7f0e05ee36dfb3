import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bearer, buildTestApp, describeEachEngine, signedIn, type TestApp } from '../helpers/app.ts';

async function createPost(
  testApp: TestApp,
  token: string,
  payload: Record<string, unknown> = { title: 'A title', content: 'Some content' },
) {
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/posts',
    headers: bearer(token),
    payload,
  });
  assert.equal(response.statusCode, 201, response.body);
  return response.json();
}

describeEachEngine('posts', (engine) => {
  test('POST /posts: 201 with the post, its author and a Location; the title is stored trimmed', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { user, token } = await signedIn(testApp);
    const response = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: bearer(token),
      payload: { title: '  Hello, world  ', content: '  body keeps its spaces  ' },
    });
    assert.equal(response.statusCode, 201);
    const post = response.json();
    assert.equal(response.headers.location, `/posts/${post.id}`);
    assert.deepEqual(Object.keys(post).sort(), [
      'author',
      'comments_count',
      'content',
      'created_at',
      'excerpt',
      'favorited',
      'favorites_count',
      'feature_image',
      'html',
      'id',
      'published_at',
      'reading_minutes',
      'slug',
      'status',
      'tags',
      'title',
      'updated_at',
    ]);
    assert.equal(
      response.headers.etag,
      (await testApp.app.inject({ url: `/posts/${post.id}` })).headers.etag,
    );
    assert.equal(post.title, 'Hello, world');
    assert.equal(post.content, '  body keeps its spaces  ');
    assert.deepEqual(post.author, { id: user.id, username: user.username });
    assert.equal(post.created_at, testApp.clock.now().toISOString());

    assert.equal(post.status, 'published', 'published by default: every earlier client keeps working');
    assert.equal(post.published_at, post.created_at);
    assert.equal(post.slug, 'hello-world');
    assert.equal(post.html, '<p>body keeps its spaces</p>');

    const read = await testApp.app.inject({ method: 'GET', url: `/posts/${post.id}` });
    assert.equal(read.statusCode, 200);
    assert.deepEqual(read.json(), post);
  });

  test('POST /posts: 401 without a token, 403 without posts:write [ASVS V8.2.1] [API5:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const anonymous = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      payload: { title: 't', content: 'c' },
    });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="inkgate"');
    const { token } = await signedIn(testApp, { scope: 'profile' });
    const narrow = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: bearer(token),
      payload: { title: 't', content: 'c' },
    });
    assert.equal(narrow.statusCode, 403);
  });

  test('POST /posts: 422 per bad field, and nothing is stored [RFC9457]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const cases: Array<[unknown, string[]]> = [
      [{}, ['/content', '/title']],
      [{ title: '', content: 'c' }, ['/title']],
      [{ title: '    ', content: 'c' }, ['/title']],
      [{ title: 'x'.repeat(201), content: 'c' }, ['/title']],
      [{ title: 'x'.repeat(10_000), content: 'c' }, ['/title']],
      [{ title: 't', content: '' }, ['/content']],
      [{ title: 't', content: 'x'.repeat(60_001) }, ['/content']],
      [{ title: 42, content: true }, ['/content', '/title']],
      [{ title: ['t'], content: { text: 'c' } }, ['/content', '/title']],
      [{ title: 't', content: 'c', author: 'someone' }, ['/author']],
      [{ title: 't', content: 'c', id: '01a204c7-66c1-742b-a8b0-af08bd300cf0' }, ['/id']],
      [{ title: 'nul\u0000byte', content: 'c' }, ['/title']],
      [{ title: 't', content: 'nul\u0000' }, ['/content']],
      [[{ title: 't', content: 'c' }], ['']],
      ['just a string', ['']],
      [null, ['']],
    ];
    for (const [payload, paths] of cases) {
      const response = await testApp.app.inject({
        method: 'POST',
        url: '/posts',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        payload: JSON.stringify(payload),
      });
      assert.equal(response.statusCode, 422, `${JSON.stringify(payload)?.slice(0, 80)}: ${response.body}`);
      assert.deepEqual(
        response
          .json()
          .errors.map((e: { path: string }) => e.path)
          .sort(),
        paths,
        JSON.stringify(payload)?.slice(0, 80),
      );
    }
    const list = await testApp.app.inject({ method: 'GET', url: '/posts' });
    assert.deepEqual(list.json().data, []);
  });

  test('odd but valid input is stored as sent: emoji, quotes, SQL fragments, 200-character titles', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const samples = [
      { title: '🦄 Unicorns 🌈', content: 'emoji 👩‍👩‍👧‍👦 and combining é and RTL עברית' },
      { title: "Robert'); DROP TABLE posts;--", content: "' OR '1'='1" },
      { title: '%_\\ like wildcards', content: '<script>alert(1)</script>' },
      { title: '🦄'.repeat(200), content: 'exactly 200 characters (code points) of title' },
    ];
    for (const sample of samples) {
      const post = await createPost(testApp, token, sample);
      assert.equal(post.title, sample.title);
      assert.equal(post.content, sample.content);
    }
    const list = await testApp.app.inject({ method: 'GET', url: '/posts' });
    assert.equal(list.json().data.length, samples.length);
  });

  test('GET /posts/{id}: 404 problem for an unknown or malformed id', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    for (const id of ['01a204c7-66c1-742b-a8b0-af08bd300cf0', 'nope', "1' or '1'='1", '%00']) {
      const response = await testApp.app.inject({ method: 'GET', url: `/posts/${encodeURIComponent(id)}` });
      assert.equal(response.statusCode, 404, id);
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.deepEqual(response.json(), {
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: 'post not found',
        code: 'post_not_found',
      });
    }
  });

  test('PUT and PATCH: the author changes a post; updated_at moves, created_at stays', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const post = await createPost(testApp, token);
    testApp.clock.advance(5000);

    const put = await testApp.app.inject({
      method: 'PUT',
      url: `/posts/${post.id}`,
      headers: bearer(token),
      payload: { title: ' Replaced ', content: 'New content' },
    });
    assert.equal(put.statusCode, 200);
    assert.equal(put.json().title, 'Replaced');
    assert.equal(put.json().content, 'New content');
    assert.equal(put.json().created_at, post.created_at);
    assert.equal(put.json().updated_at, testApp.clock.now().toISOString());

    const putPartial = await testApp.app.inject({
      method: 'PUT',
      url: `/posts/${post.id}`,
      headers: bearer(token),
      payload: { title: 'only' },
    });
    assert.equal(putPartial.statusCode, 422, 'PUT replaces: both fields are required');
    assert.deepEqual(putPartial.json().errors, [{ path: '/content', message: 'is required' }]);

    const patch = await testApp.app.inject({
      method: 'PATCH',
      url: `/posts/${post.id}`,
      headers: bearer(token),
      payload: { content: 'Patched' },
    });
    assert.equal(patch.statusCode, 200);
    assert.equal(patch.json().title, 'Replaced');
    assert.equal(patch.json().content, 'Patched');

    const badPatch = await testApp.app.inject({
      method: 'PATCH',
      url: `/posts/${post.id}`,
      headers: bearer(token),
      payload: { title: '   ' },
    });
    assert.equal(badPatch.statusCode, 422);
    const after = await testApp.app.inject({ method: 'GET', url: `/posts/${post.id}` });
    assert.equal(after.json().title, 'Replaced', 'a refused change changes nothing');
  });

  test("someone else's post: 403 for another writer, allowed for an admin; 404 for a missing one [ASVS V8.2.2] [ASVS V8.3.1] [API1:2023]", async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const author = await signedIn(testApp);
    const other = await signedIn(testApp);
    const admin = await signedIn(testApp, { role: 'admin' });
    const post = await createPost(testApp, author.token);

    for (const [method, payload] of [
      ['PUT', { title: 'x', content: 'y' }],
      ['PATCH', { title: 'x' }],
      ['DELETE', undefined],
    ] as const) {
      const response = await testApp.app.inject({
        method,
        url: `/posts/${post.id}`,
        headers: bearer(other.token),
        payload,
      });
      assert.equal(response.statusCode, 403, method);
      assert.equal(response.json().detail, 'only the author of this post or an admin may change it');
      const missing = await testApp.app.inject({
        method,
        url: '/posts/01a204c7-66c1-742b-a8b0-af08bd300cf0',
        headers: bearer(other.token),
        payload,
      });
      assert.equal(missing.statusCode, 404, method);
    }
    const unchanged = await testApp.app.inject({ method: 'GET', url: `/posts/${post.id}` });
    assert.equal(unchanged.json().title, post.title);

    const adminPatch = await testApp.app.inject({
      method: 'PATCH',
      url: `/posts/${post.id}`,
      headers: bearer(admin.token),
      payload: { title: 'Moderated' },
    });
    assert.equal(adminPatch.statusCode, 200);
    assert.equal(adminPatch.json().author.id, author.user.id, 'an admin edit keeps the author');

    // An admin whose token was narrowed to posts:write has no admin power.
    const narrowAdmin = await signedIn(testApp, { role: 'admin', scope: 'posts:write' });
    const narrowed = await testApp.app.inject({
      method: 'DELETE',
      url: `/posts/${post.id}`,
      headers: bearer(narrowAdmin.token),
    });
    assert.equal(narrowed.statusCode, 403);

    const deleted = await testApp.app.inject({
      method: 'DELETE',
      url: `/posts/${post.id}`,
      headers: bearer(admin.token),
    });
    assert.equal(deleted.statusCode, 204);
    assert.equal(deleted.body, '');
    assert.equal((await testApp.app.inject({ method: 'GET', url: `/posts/${post.id}` })).statusCode, 404);
  });

  test('DELETE /posts/{id}: the author deletes; a second delete is 404', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const post = await createPost(testApp, token);
    const first = await testApp.app.inject({
      method: 'DELETE',
      url: `/posts/${post.id}`,
      headers: bearer(token),
    });
    assert.equal(first.statusCode, 204);
    const second = await testApp.app.inject({
      method: 'DELETE',
      url: `/posts/${post.id}`,
      headers: bearer(token),
    });
    assert.equal(second.statusCode, 404);
  });

  test('GET /posts: newest first, paged by cursor without skips or repeats while posts are added', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const created: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      created.push((await createPost(testApp, token, { title: `post ${i}`, content: 'c' })).id);
      if (i % 2 === 0) testApp.clock.advance(1000); // some share a created_at: the id breaks the tie
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/posts?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await testApp.app.inject({ method: 'GET', url });
      assert.equal(page.statusCode, 200);
      const body = page.json();
      assert.ok(body.data.length <= 3);
      seen.push(...body.data.map((post: { id: string }) => post.id));
      cursor = body.next_cursor;
      pages += 1;
      // New posts arrive while the client pages: they are newer, so they never shift later pages.
      testApp.clock.advance(1000);
      await createPost(testApp, token, { title: `late ${pages}`, content: 'c' });
    } while (cursor);
    assert.deepEqual(seen, [...created].reverse());
    assert.equal(pages, 3);
  });

  test('GET /posts: ?author and ?q filter; LIKE wildcards in q match themselves', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const ada = await signedIn(testApp);
    const bob = await signedIn(testApp);
    await createPost(testApp, ada.token, {
      title: 'Engines',
      content: 'The Analytical Engine weaves patterns',
    });
    await createPost(testApp, ada.token, { title: '100% sure', content: 'percent' });
    await createPost(testApp, bob.token, { title: 'Gardening', content: 'Tomatoes and engines of growth' });

    const byAda = (
      await testApp.app.inject({ method: 'GET', url: `/posts?author=${ada.user.username.toUpperCase()}` })
    ).json();
    assert.deepEqual(byAda.data.map((p: { title: string }) => p.title).sort(), ['100% sure', 'Engines']);

    const engines = (await testApp.app.inject({ method: 'GET', url: '/posts?q=ENGINE' })).json();
    assert.deepEqual(engines.data.map((p: { title: string }) => p.title).sort(), ['Engines', 'Gardening']);

    const both = (
      await testApp.app.inject({ method: 'GET', url: `/posts?q=engine&author=${bob.user.username}` })
    ).json();
    assert.deepEqual(
      both.data.map((p: { title: string }) => p.title),
      ['Gardening'],
    );

    const percent = (await testApp.app.inject({ method: 'GET', url: '/posts?q=0%25%20S' })).json();
    assert.deepEqual(
      percent.data.map((p: { title: string }) => p.title),
      ['100% sure'],
    );
    const wildcards = (await testApp.app.inject({ method: 'GET', url: '/posts?q=%25_%25' })).json();
    assert.deepEqual(wildcards.data, []);

    for (const short of ['', 'en', '%25']) {
      const tooShort = await testApp.app.inject({ method: 'GET', url: `/posts?q=${short}` });
      assert.equal(tooShort.statusCode, 422, short);
      assert.equal(tooShort.json().errors[0].path, '/q');
    }

    const nobody = (await testApp.app.inject({ method: 'GET', url: '/posts?author=nobody_at_all' })).json();
    assert.deepEqual(nobody, { data: [], next_cursor: null });
  });

  test('GET /posts: 422 for a bad limit, cursor or filter', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const cases: Array<[string, string]> = [
      ['limit=0', '/limit'],
      ['limit=101', '/limit'],
      ['limit=abc', '/limit'],
      ['limit=1.5', '/limit'],
      ['cursor=not-a-cursor', '/cursor'],
      [`cursor=${Buffer.from('["2026-01-01T00:00:00.000Z","x"]').toString('base64url')}`, '/cursor'],
      [`cursor=${'x'.repeat(300)}`, '/cursor'],
      ['author=bad%20name', '/author'],
      ['q=', '/q'],
      ['q=%00', '/q'],
      ['sort=title', '/sort'],
    ];
    for (const [query, path] of cases) {
      const response = await testApp.app.inject({ method: 'GET', url: `/posts?${query}` });
      assert.equal(response.statusCode, 422, query);
      assert.deepEqual(
        response.json().errors.map((e: { path: string }) => e.path),
        [path],
        query,
      );
    }
  });

  test('GET /users/me/posts: only the caller’s posts, paged', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const ada = await signedIn(testApp);
    const bob = await signedIn(testApp);
    await createPost(testApp, ada.token, { title: 'mine 1', content: 'c' });
    testApp.clock.advance(1);
    await createPost(testApp, ada.token, { title: 'mine 2', content: 'c' });
    await createPost(testApp, bob.token, { title: 'theirs', content: 'c' });

    const page = await testApp.app.inject({
      method: 'GET',
      url: '/users/me/posts?limit=1',
      headers: bearer(ada.token),
    });
    assert.equal(page.statusCode, 200);
    assert.deepEqual(
      page.json().data.map((p: { title: string }) => p.title),
      ['mine 2'],
    );
    const next = await testApp.app.inject({
      method: 'GET',
      url: `/users/me/posts?limit=1&cursor=${page.json().next_cursor}`,
      headers: bearer(ada.token),
    });
    assert.deepEqual(
      next.json().data.map((p: { title: string }) => p.title),
      ['mine 1'],
    );
    assert.equal(next.json().next_cursor, null);

    assert.equal((await testApp.app.inject({ method: 'GET', url: '/users/me/posts' })).statusCode, 401);
  });
});

test('GET /posts: a public list answer is reused for a moment, but a write through this instance shows at once', async (t) => {
  const queries: string[] = [];
  const testApp = await buildTestApp(t, { onQuery: (sql) => queries.push(sql) });
  const ada = await signedIn(testApp);
  await createPost(testApp, ada.token, { title: 'First', content: 'one' });
  const list = async () => (await testApp.app.inject({ method: 'GET', url: '/posts?limit=5' })).json();
  assert.deepEqual(
    (await list()).data.map((p: { title: string }) => p.title),
    ['First'],
  );
  await list(); // asked again within the second: now kept (blog.test.ts: not a page asked for once)
  queries.length = 0;
  assert.deepEqual(
    (await list()).data.map((p: { title: string }) => p.title),
    ['First'],
  );
  assert.deepEqual(queries, [], 'the third read is served without a query');
  await createPost(testApp, ada.token, { title: 'Second', content: 'two' });
  assert.deepEqual(
    (await list()).data.map((p: { title: string }) => p.title),
    ['Second', 'First'],
    'the writer reads their own write',
  );
  // A write elsewhere (another instance: straight into the database) shows once the second is over,
  // by the injected clock.
  await testApp.database.db.deleteFrom('posts').execute();
  assert.equal((await list()).data.length, 2, 'within the second');
  testApp.clock.advance(1001);
  assert.equal((await list()).data.length, 0, 'after it');
});
