import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bearer,
  buildTestApp,
  createUser,
  describeEachEngine,
  signedIn,
  tokenFor,
  unreadableFeed,
} from '../helpers/app.ts';
import { call, publishDue, runJob, writePost } from '../helpers/blog.ts';

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');

describeEachEngine('blog: posts', (engine) => {
  test('POST /posts: Markdown rendered and sanitised, excerpt of 50 words, reading time, tags sorted, ETag', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const content = `# Engines\n\n${words(450)}\n\n<script>alert(1)</script> [x](javascript:alert(1)) ~~old~~`;
    const post = await writePost(testApp, token, {
      title: '  Über Engines  ',
      content,
      tags: ['Mathematics', 'engines', 'Engines ', 'ÉNGINES'],
      feature_image: 'https://images.example.com/cover.jpg',
    });
    assert.equal(post.slug, 'uber-engines');
    assert.equal(post.title, 'Über Engines');
    assert.match(post.html, /^<h1 id="section-engines">Engines<\/h1>/);
    assert.match(post.html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, 'raw HTML is text');
    assert.doesNotMatch(post.html, /<script|href="javascript/i);
    assert.match(post.html, /<s>old<\/s>|<del>old<\/del>/);
    assert.equal(post.excerpt, `Engines ${words(49)}…`);
    assert.equal(post.reading_minutes, 3, '451 words at 200 a minute');
    assert.deepEqual(
      post.tags,
      ['engines', 'Mathematics'],
      'one tag per identity, its first spelling, sorted',
    );
    assert.equal(post.feature_image, 'https://images.example.com/cover.jpg');
    assert.match(post.etag, /^"[A-Za-z0-9_-]{27}"$/);
    const given = await writePost(testApp, token, { title: 'B', excerpt: '  Short.  ' });
    assert.equal(given.excerpt, 'Short.');
  });

  test('POST /posts: 422 for each field the contract bounds, and nothing is stored', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const future = new Date(testApp.clock.now().getTime() + 3_600_000).toISOString();
    const past = new Date(testApp.clock.now().getTime() - 3_600_000).toISOString();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ status: 'scheduled' }, '/published_at'],
      [{ status: 'scheduled', published_at: past }, '/published_at'],
      [{ status: 'draft', published_at: past }, '/published_at'],
      [{ published_at: future }, '/published_at'],
      [{ published_at: 'yesterday' }, '/published_at'],
      [{ status: 'hidden' }, '/status'],
      [{ tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, '/tags'],
      [{ tags: ['x'.repeat(41)] }, '/tags/0'],
      [{ tags: ['   '] }, '/tags/0'],
      [{ tags: ['!!!'] }, '/tags/0'],
      [{ excerpt: 'x'.repeat(301) }, '/excerpt'],
      [{ feature_image: 'http://images.example.com/a.png' }, '/feature_image'],
      [{ feature_image: 'javascript:alert(1)' }, '/feature_image'],
      [{ slug: 'Not A Slug' }, '/slug'],
      [{ slug: 'feed' }, '/slug'],
      [{ slug: 'a--b' }, '/slug'],
      [{ slug: 'x'.repeat(97) }, '/slug'],
    ];
    for (const [fields, path] of cases) {
      const response = await call(testApp, 'POST', '/posts', token, { title: 'T', content: 'c', ...fields });
      assert.equal(response.statusCode, 422, `${JSON.stringify(fields)}: ${response.body}`);
      assert.ok(
        response.json().errors.some((e: { path: string }) => e.path === path),
        `${JSON.stringify(fields)} → ${response.body}`,
      );
    }
    const all = await call(testApp, 'POST', '/posts', token, {
      title: '   ',
      content: 'c',
      excerpt: 'x'.repeat(301),
      tags: ['ok', '!!!'],
      status: 'scheduled',
    });
    assert.deepEqual(
      all.json().errors.map((e: { path: string }) => e.path),
      ['/title', '/excerpt', '/tags/1', '/published_at'],
      'every bad field at once',
    );
    const mine = await call(testApp, 'GET', '/users/me/posts', token);
    assert.deepEqual(mine.json().data, []);
  });

  test('slugs: made from the title, -2 on collision, reserved words avoided; a given one is 409 when taken', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    assert.equal((await writePost(testApp, token, { title: 'Hello, World!' })).slug, 'hello-world');
    assert.equal((await writePost(testApp, token, { title: 'hello world' })).slug, 'hello-world-2');
    assert.equal((await writePost(testApp, token, { title: 'HELLO — WORLD' })).slug, 'hello-world-3');
    assert.equal((await writePost(testApp, token, { title: 'Feed' })).slug, 'feed-post');
    assert.equal((await writePost(testApp, token, { title: '日本語' })).slug, 'post');
    assert.equal((await writePost(testApp, token, { title: 'x', slug: 'my-choice' })).slug, 'my-choice');
    const taken = await call(testApp, 'POST', '/posts', token, {
      title: 'y',
      content: 'c',
      slug: 'hello-world-2',
    });
    assert.equal(taken.statusCode, 409);
    assert.equal(taken.json().code, 'slug_taken');
  });

  test('slugs: a title change keeps the slug; a slug change keeps the old one as a 301, never to be taken again', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const post = await writePost(testApp, token, { title: 'First name' });
    const retitled = await call(testApp, 'PATCH', `/posts/${post.id}`, token, { title: 'Second name' });
    assert.equal(retitled.json().slug, 'first-name');
    const moved = await call(testApp, 'PATCH', `/posts/${post.id}`, token, { slug: 'second-name' });
    assert.equal(moved.statusCode, 200);
    assert.equal(moved.json().slug, 'second-name');
    const old = await call(testApp, 'GET', '/posts/slug/first-name');
    assert.equal(old.statusCode, 301);
    assert.equal(old.headers.location, '/posts/slug/second-name');
    const current = await call(testApp, 'GET', '/posts/slug/second-name');
    assert.equal(current.statusCode, 200);
    assert.equal(current.json().id, post.id);
    const page = await call(testApp, 'GET', '/p/first-name');
    assert.equal(page.statusCode, 301);
    assert.equal(page.headers.location, '/p/second-name');
    // The old slug stays the post's: no other post may take it, given or made.
    const other = await call(testApp, 'POST', '/posts', token, {
      title: 'z',
      content: 'c',
      slug: 'first-name',
    });
    assert.equal(other.statusCode, 409);
    assert.equal((await writePost(testApp, token, { title: 'First name' })).slug, 'first-name-2');
    // …but the post itself may go back to it.
    const back = await call(testApp, 'PATCH', `/posts/${post.id}`, token, { slug: 'first-name' });
    assert.equal(back.statusCode, 200);
    assert.equal(
      (await call(testApp, 'GET', '/posts/slug/second-name')).headers.location,
      '/posts/slug/first-name',
    );
    assert.equal((await call(testApp, 'GET', '/posts/slug/unknown')).statusCode, 404);
  });

  test('slugs: 150 posts of one title are numbered 2 to 150 in a few lookups each; a given slug in the run is stepped over', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    await writePost(testApp, token, { title: 'x', slug: 'same-title-3' });
    const slugs: string[] = [];
    for (let i = 0; i < 150; i += 1)
      slugs.push((await writePost(testApp, token, { title: 'Same title' })).slug);
    assert.equal(new Set(slugs).size, 150);
    assert.deepEqual(slugs.slice(0, 4), ['same-title', 'same-title-2', 'same-title-4', 'same-title-5']);
    assert.equal(slugs[149], 'same-title-151');
  });

  test('slugs: the same title created at once gets distinct slugs (race-safe)', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        call(testApp, 'POST', '/posts', token, { title: 'Same title', content: 'c' }),
      ),
    );
    for (const answer of answers) assert.equal(answer.statusCode, 201, answer.body);
    const slugs = answers.map((answer) => answer.json().slug).sort();
    assert.deepEqual(
      slugs,
      ['same-title', ...Array.from({ length: 7 }, (_, i) => `same-title-${i + 2}`)].sort(),
    );
  });

  test('tags: case, accents and spacing are one tag; GET /tags counts published posts; ?tag= lists them', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const first = await writePost(testApp, token, { title: 'one', tags: ['Café  Culture'] });
    await writePost(testApp, token, { title: 'two', tags: [' cafe culture', 'Other'] });
    await writePost(testApp, token, { title: 'three', tags: ['CAFÉ CULTURE'], status: 'draft' });
    assert.deepEqual(first.tags, ['Café Culture']);
    const tags = await call(testApp, 'GET', '/tags');
    assert.deepEqual(tags.json().data, [
      { name: 'Café Culture', slug: 'cafe-culture', count: 2 },
      { name: 'Other', slug: 'other', count: 1 },
    ]);
    const listed = await call(testApp, 'GET', '/posts?tag=cafe-culture');
    assert.deepEqual(
      listed.json().data.map((p: { title: string }) => p.title),
      ['two', 'one'],
    );
    assert.deepEqual(
      (await call(testApp, 'GET', '/posts?tag=cafe')).json().data,
      [],
      'a slug, never a pattern',
    );
    assert.equal((await call(testApp, 'GET', '/posts?tag=Caf%C3%A9')).statusCode, 422);
    // Retagging moves the counts; deleting the post takes its count away.
    await call(testApp, 'PATCH', `/posts/${first.id}`, token, { tags: ['Other'] });
    assert.deepEqual((await call(testApp, 'GET', '/tags')).json().data, [
      { name: 'Other', slug: 'other', count: 2 },
      { name: 'Café Culture', slug: 'cafe-culture', count: 1 },
    ]);
    await call(testApp, 'DELETE', `/posts/${first.id}`, token);
    assert.deepEqual(
      (await call(testApp, 'GET', '/tags')).json().data.map((tag: { count: number }) => tag.count),
      [1, 1],
    );
  });

  test('?tag= by cursor: every listed post once, newest first; a draft, an unpublished and a retagged post are not in it', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      testApp.clock.advance(1);
      ids.push((await writePost(testApp, token, { title: `T${i}`, tags: ['walk'] })).id);
    }
    await writePost(testApp, token, { title: 'Draft', tags: ['walk'], status: 'draft' });
    await call(testApp, 'PATCH', `/posts/${ids[1]}`, token, { status: 'draft' });
    await call(testApp, 'PATCH', `/posts/${ids[3]}`, token, { tags: ['elsewhere'] });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/posts?tag=walk&limit=1${cursor ? `&cursor=${cursor}` : ''}`;
      const page: { data: Array<{ title: string }>; next_cursor: string | null } = (
        await call(testApp, 'GET', path)
      ).json();
      seen.push(...page.data.map((p) => p.title));
      cursor = page.next_cursor;
    } while (cursor && seen.length < 10);
    assert.deepEqual(seen, ['T4', 'T2', 'T0']);
    const whole = (await call(testApp, 'GET', '/posts?tag=walk')).json();
    assert.deepEqual(
      whole.data.map((p: { title: string }) => p.title),
      ['T4', 'T2', 'T0'],
      'one page',
    );
  });

  test('scheduling: published at its time by the scheduler, with no request; lists ordered by published_at', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const now = testApp.clock.now().getTime();
    const at = new Date(now + 3_600_000);
    const scheduled = await writePost(testApp, token, {
      title: 'Later',
      status: 'scheduled',
      published_at: at.toISOString(),
      tags: ['news'],
    });
    assert.equal(scheduled.status, 'scheduled');
    assert.equal(scheduled.published_at, at.toISOString());
    const backdated = await writePost(testApp, token, {
      title: 'Backdated',
      published_at: new Date(now - 86_400_000).toISOString(),
    });
    const fresh = await writePost(testApp, token, { title: 'Fresh' });
    assert.deepEqual(
      (await call(testApp, 'GET', '/posts')).json().data.map((p: { title: string }) => p.title),
      ['Fresh', 'Backdated'],
    );
    assert.deepEqual(await publishDue(testApp, new Date(now + 60_000)), { published: 0 });
    testApp.clock.set(new Date(at.getTime() + 1000));
    assert.deepEqual(await publishDue(testApp, testApp.clock.now()), { published: 1 });
    const read = await call(testApp, 'GET', `/posts/${scheduled.id}`);
    assert.equal(read.statusCode, 200);
    assert.equal(read.json().status, 'published');
    assert.equal(read.json().published_at, at.toISOString(), 'published at its time, not at the run');
    assert.deepEqual(
      (await call(testApp, 'GET', '/posts?limit=1')).json().data.map((p: { id: string }) => p.id),
      [scheduled.id],
    );
    const second = await call(
      testApp,
      'GET',
      `/posts?limit=1&cursor=${(await call(testApp, 'GET', '/posts?limit=1')).json().next_cursor}`,
    );
    assert.deepEqual(
      second.json().data.map((p: { id: string }) => p.id),
      [fresh.id],
    );
    assert.deepEqual((await call(testApp, 'GET', '/tags')).json().data, [
      { name: 'news', slug: 'news', count: 1 },
    ]);
    assert.ok(backdated.published_at < fresh.published_at);
  });

  test('scheduling: a post whose time came before the scheduler ran is published by an edit, not refused', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const at = new Date(testApp.clock.now().getTime() + 60_000);
    const post = await writePost(testApp, token, {
      status: 'scheduled',
      published_at: at.toISOString(),
      tags: ['soon'],
    });
    testApp.clock.advance(61_000);
    const edited = await call(testApp, 'PATCH', `/posts/${post.id}`, token, { title: 'Edited' });
    assert.equal(edited.statusCode, 200, edited.body);
    assert.deepEqual([edited.json().status, edited.json().published_at], ['published', at.toISOString()]);
    assert.deepEqual((await call(testApp, 'GET', '/tags')).json().data, [
      { name: 'soon', slug: 'soon', count: 1 },
    ]);
    assert.deepEqual(await publishDue(testApp, testApp.clock.now()), { published: 0 });
  });

  test('status changes: draft → published now; published → draft leaves every list; PUT resets the optional fields', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const draft = await writePost(testApp, token, {
      title: 'Draft',
      status: 'draft',
      tags: ['x'],
      excerpt: 'E',
    });
    assert.equal(draft.published_at, null);
    testApp.clock.advance(5000);
    const published = await call(testApp, 'PATCH', `/posts/${draft.id}`, token, { status: 'published' });
    assert.equal(published.json().status, 'published');
    assert.equal(published.json().published_at, testApp.clock.now().toISOString());
    const unpublished = await call(testApp, 'PATCH', `/posts/${draft.id}`, token, { status: 'draft' });
    assert.equal(unpublished.json().published_at, null);
    assert.deepEqual((await call(testApp, 'GET', '/posts')).json().data, []);
    assert.deepEqual((await call(testApp, 'GET', '/tags')).json().data, []);
    const replaced = await call(testApp, 'PUT', `/posts/${draft.id}`, token, {
      title: 'New',
      content: 'New body',
    });
    assert.equal(replaced.statusCode, 200);
    const body = replaced.json();
    assert.deepEqual(
      [body.status, body.tags, body.excerpt, body.slug],
      ['published', [], 'New body', 'draft'],
    );
  });

  test('ETag and If-Match: the current ETag changes the post; an old one is 412 and changes nothing [RFC9110 §13.1.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const post = await writePost(testApp, token, { title: 'Versioned' });
    const read = await call(testApp, 'GET', `/posts/${post.id}`, token);
    assert.equal(read.headers.etag, post.etag);
    const first = await call(
      testApp,
      'PATCH',
      `/posts/${post.id}`,
      token,
      { title: 'One' },
      { 'if-match': post.etag },
    );
    assert.equal(first.statusCode, 200);
    assert.notEqual(first.headers.etag, post.etag);
    const stale = await call(
      testApp,
      'PATCH',
      `/posts/${post.id}`,
      token,
      { title: 'Two' },
      { 'if-match': post.etag },
    );
    assert.equal(stale.statusCode, 412);
    assert.equal(stale.json().code, 'precondition_failed');
    const put = await call(
      testApp,
      'PUT',
      `/posts/${post.id}`,
      token,
      { title: 'Two', content: 'c' },
      { 'if-match': post.etag },
    );
    assert.equal(put.statusCode, 412);
    const weak = await call(
      testApp,
      'PATCH',
      `/posts/${post.id}`,
      token,
      { title: 'Two' },
      { 'if-match': `W/${first.headers.etag}` },
    );
    assert.equal(weak.statusCode, 412, 'If-Match compares strongly: a weak tag never matches');
    assert.equal((await call(testApp, 'GET', `/posts/${post.id}`)).json().title, 'One');
    const listed = await call(
      testApp,
      'PATCH',
      `/posts/${post.id}`,
      token,
      { title: 'Three' },
      { 'if-match': `"nope", ${first.headers.etag}` },
    );
    assert.equal(listed.statusCode, 200);
    const star = await call(
      testApp,
      'PATCH',
      `/posts/${post.id}`,
      token,
      { title: 'Four' },
      { 'if-match': '*' },
    );
    assert.equal(star.statusCode, 200);
    // Two writers with the same ETag: exactly one wins.
    const race = await Promise.all(
      ['A', 'B'].map((title) =>
        call(
          testApp,
          'PATCH',
          `/posts/${post.id}`,
          token,
          { title },
          { 'if-match': star.headers.etag as string },
        ),
      ),
    );
    assert.deepEqual(race.map((r) => r.statusCode).sort(), [200, 412]);
  });

  test('favourites: idempotent PUT and DELETE, exact counts under concurrency, ?favorited_by=', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token, user } = await signedIn(testApp);
    const post = await writePost(testApp, token);
    const on = await call(testApp, 'PUT', `/posts/${post.id}/favorite`, token);
    assert.equal(on.statusCode, 200);
    assert.deepEqual([on.json().favorited, on.json().favorites_count], [true, 1]);
    const again = await call(testApp, 'PUT', `/posts/${post.id}/favorite`, token);
    assert.deepEqual([again.json().favorited, again.json().favorites_count], [true, 1]);
    assert.equal((await call(testApp, 'GET', `/posts/${post.id}`, token)).json().favorited, true);
    assert.equal((await call(testApp, 'GET', `/posts/${post.id}`)).json().favorited, false);
    assert.equal((await call(testApp, 'GET', '/posts', token)).json().data[0].favorited, true);
    assert.equal((await call(testApp, 'GET', '/posts')).json().data[0].favorited, false);
    assert.deepEqual(
      (await call(testApp, 'GET', `/posts?favorited_by=${user.username.toUpperCase()}`))
        .json()
        .data.map((p: { id: string }) => p.id),
      [post.id],
    );
    const off = await call(testApp, 'DELETE', `/posts/${post.id}/favorite`, token);
    assert.deepEqual([off.json().favorited, off.json().favorites_count], [false, 0]);
    const offAgain = await call(testApp, 'DELETE', `/posts/${post.id}/favorite`, token);
    assert.deepEqual([offAgain.json().favorited, offAgain.json().favorites_count], [false, 0]);

    const others = await Promise.all(Array.from({ length: 6 }, () => signedIn(testApp)));
    const answers = await Promise.all(
      others.flatMap(({ token: other }) => [
        call(testApp, 'PUT', `/posts/${post.id}/favorite`, other),
        call(testApp, 'PUT', `/posts/${post.id}/favorite`, other),
      ]),
    );
    for (const answer of answers) assert.equal(answer.statusCode, 200, answer.body);
    assert.equal((await call(testApp, 'GET', `/posts/${post.id}`)).json().favorites_count, 6);
    assert.equal(
      (await call(testApp, 'PUT', `/posts/${'0'.repeat(8)}-0000-7000-8000-${'0'.repeat(12)}/favorite`, token))
        .statusCode,
      404,
    );
    const narrow = await tokenFor(testApp, others[0]!.user, 'profile');
    assert.equal((await call(testApp, 'PUT', `/posts/${post.id}/favorite`, narrow)).statusCode, 403);
    assert.equal((await call(testApp, 'PUT', `/posts/${post.id}/favorite`)).statusCode, 401);
  });

  test('authors and follows: profile with counts, idempotent follow, 422 on oneself, the feed of follows', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const author = await signedIn(testApp);
    const reader = await signedIn(testApp);
    await call(testApp, 'PATCH', '/users/me', author.token, {
      bio: 'Writes about engines.',
      full_name: 'Ada',
    });
    await writePost(testApp, author.token, { title: 'By the author' });
    await writePost(testApp, author.token, { title: 'Hidden', status: 'draft' });
    await writePost(testApp, reader.token, { title: 'By the reader' });
    const profile = await call(testApp, 'GET', `/authors/${author.user.username}`);
    assert.equal(profile.statusCode, 200);
    assert.deepEqual(profile.json(), {
      username: author.user.username,
      full_name: 'Ada',
      bio: 'Writes about engines.',
      image: null,
      posts_count: 1,
      followers_count: 0,
      following: false,
    });
    assert.ok(!('email' in profile.json()));
    const followed = await call(testApp, 'PUT', `/authors/${author.user.username}/follow`, reader.token);
    assert.deepEqual([followed.json().following, followed.json().followers_count], [true, 1]);
    const twice = await call(testApp, 'PUT', `/authors/${author.user.username}/follow`, reader.token);
    assert.deepEqual([twice.json().following, twice.json().followers_count], [true, 1]);
    assert.equal(
      (await call(testApp, 'GET', `/authors/${author.user.username}`, reader.token)).json().following,
      true,
    );
    const feed = await call(testApp, 'GET', '/users/me/feed', reader.token);
    assert.deepEqual(
      feed.json().data.map((p: { title: string }) => p.title),
      ['By the author'],
    );
    const self = await call(testApp, 'PUT', `/authors/${reader.user.username}/follow`, reader.token);
    assert.equal(self.statusCode, 422);
    assert.equal((await call(testApp, 'GET', '/authors/nobody-here')).statusCode, 404);
    assert.equal((await call(testApp, 'PUT', '/authors/nobody-here/follow', reader.token)).statusCode, 404);
    const unfollowed = await call(testApp, 'DELETE', `/authors/${author.user.username}/follow`, reader.token);
    assert.deepEqual([unfollowed.json().following, unfollowed.json().followers_count], [false, 0]);
    assert.deepEqual((await call(testApp, 'GET', '/users/me/feed', reader.token)).json().data, []);
    assert.equal((await call(testApp, 'GET', '/users/me/feed')).statusCode, 401);
  });

  test('GET /users/me/posts: every status of the caller’s own posts, or one', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const future = new Date(testApp.clock.now().getTime() + 3_600_000).toISOString();
    await writePost(testApp, token, { title: 'p' });
    await writePost(testApp, token, { title: 'd', status: 'draft' });
    await writePost(testApp, token, { title: 's', status: 'scheduled', published_at: future });
    const all = await call(testApp, 'GET', '/users/me/posts', token);
    assert.deepEqual(
      all.json().data.map((p: { title: string }) => p.title),
      ['s', 'd', 'p'],
    );
    const drafts = await call(testApp, 'GET', '/users/me/posts?status=draft', token);
    assert.deepEqual(
      drafts.json().data.map((p: { title: string }) => p.title),
      ['d'],
    );
    assert.equal((await call(testApp, 'GET', '/users/me/posts?status=secret', token)).statusCode, 422);
  });

  test('a deleted user takes their favourites and comments out of other posts’ counts, and their posts out of the tags', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const author = await signedIn(testApp);
    const leaving = await signedIn(testApp);
    const post = await writePost(testApp, author.token, { tags: ['kept'] });
    await writePost(testApp, leaving.token, { title: 'theirs', tags: ['kept', 'gone'] });
    await call(testApp, 'PUT', `/posts/${post.id}/favorite`, leaving.token);
    await call(testApp, 'PUT', `/posts/${post.id}/favorite`, author.token);
    await call(testApp, 'POST', `/posts/${post.id}/comments`, leaving.token, { body: 'bye' });
    await call(testApp, 'POST', `/posts/${post.id}/comments`, author.token, { body: 'stay' });
    const before = (await call(testApp, 'GET', `/posts/${post.id}`)).json();
    assert.deepEqual([before.favorites_count, before.comments_count], [2, 2]);
    const deleted = await call(testApp, 'DELETE', '/users/me', leaving.token, {
      password: leaving.user.password,
    });
    assert.equal(deleted.statusCode, 204, deleted.body);
    const after = (await call(testApp, 'GET', `/posts/${post.id}`)).json();
    assert.deepEqual([after.favorites_count, after.comments_count], [1, 1]);
    assert.deepEqual((await call(testApp, 'GET', '/tags')).json().data, [
      { name: 'kept', slug: 'kept', count: 1 },
    ]);
    assert.deepEqual(
      (await call(testApp, 'GET', '/posts')).json().data.map((p: { title: string }) => p.title),
      ['A title'],
      'the list (cached) no longer holds their post',
    );
  });

  test('someone else’s post: 403 to change or delete; an admin may; a missing one 404', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const author = await signedIn(testApp);
    const other = await signedIn(testApp);
    const admin = await createUser(testApp, { role: 'admin' });
    const adminToken = await tokenFor(testApp, admin);
    const post = await writePost(testApp, author.token);
    for (const [method, payload] of [
      ['PATCH', { title: 'x' }],
      ['PUT', { title: 'x', content: 'y' }],
      ['DELETE', undefined],
    ] as const) {
      const refused = await call(testApp, method, `/posts/${post.id}`, other.token, payload);
      assert.equal(refused.statusCode, 403, `${method}: ${refused.body}`);
      assert.equal(refused.json().code, 'not_author');
    }
    assert.equal(
      (await call(testApp, 'PATCH', `/posts/${post.id}`, adminToken, { title: 'By admin' })).statusCode,
      200,
    );
    const draft = await writePost(testApp, author.token, { status: 'draft' });
    const hidden = await call(testApp, 'PATCH', `/posts/${draft.id}`, other.token, { title: 'x' });
    assert.equal(hidden.statusCode, 404, 'a draft of someone else is as missing as none');
    assert.equal((await call(testApp, 'DELETE', `/posts/${draft.id}`, adminToken)).statusCode, 204);
    assert.equal((await call(testApp, 'DELETE', `/posts/${draft.id}`, adminToken)).statusCode, 404);
    assert.equal(bearer('x').authorization, 'Bearer x');
  });
});

test('the list cache: a page is reused for a second, and emptied by a write', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  await writePost(testApp, token, { title: 'one' });
  const first = await call(testApp, 'GET', '/posts');
  assert.equal(first.json().data.length, 1);
  await writePost(testApp, token, { title: 'two' });
  assert.equal((await call(testApp, 'GET', '/posts')).json().data.length, 2, 'a write empties it');
});

test('the list cache keeps a page from its second asking within the second, not a page asked for once', async (t) => {
  // Direct database writes stand for another instance's: with the content feed unread (its
  // fallback), the cache does not see them for the second.
  const testApp = await buildTestApp(t, { contentFeed: unreadableFeed });
  const { token } = await signedIn(testApp);
  const post = await writePost(testApp, token, { title: 'first title' });
  const list = (status: 'draft' | 'published') =>
    testApp.database.db.updateTable('posts').set({ status }).where('id', '=', post.id).execute();
  const titles = async () =>
    (await call(testApp, 'GET', '/posts')).json().data.map((p: { title: string }) => p.title);
  assert.deepEqual(await titles(), ['first title']); // asked once: read, not kept
  await list('draft');
  assert.deepEqual(await titles(), [], 'the first page was not kept'); // asked again: kept
  await list('published');
  assert.deepEqual(await titles(), [], 'the second page is kept for the second');
  testApp.clock.advance(1001);
  assert.deepEqual(await titles(), ['first title']);
});

test('a post as lists show it is kept for the second from its first read, in any page; a page not kept still lists only what is listed', async (t) => {
  const testApp = await buildTestApp(t, { contentFeed: unreadableFeed });
  const { token } = await signedIn(testApp);
  const older = await writePost(testApp, token, { title: 'older title' });
  testApp.clock.advance(1);
  const newer = await writePost(testApp, token, { title: 'newer title' });
  const { db } = testApp.database;
  const titles = async (path: string) =>
    (await call(testApp, 'GET', path)).json().data.map((p: { title: string }) => p.title);
  assert.deepEqual(await titles('/posts'), ['newer title', 'older title']);
  await db.updateTable('posts').set({ title: 'older, retitled' }).where('id', '=', older.id).execute();
  // Another page (limit 5), asked for the first time: its keys are read, its posts the kept ones.
  assert.deepEqual(await titles('/posts?limit=5'), ['newer title', 'older title']);
  // A post no longer listed is not in a page read now, though its list view is kept.
  await db.updateTable('posts').set({ status: 'draft' }).where('id', '=', newer.id).execute();
  assert.deepEqual(await titles('/posts?limit=6'), ['older title']);
  const cursor = (await call(testApp, 'GET', '/posts?limit=1')).json().next_cursor;
  assert.equal(cursor, null, 'one listed post: no next page');
  testApp.clock.advance(1001);
  assert.deepEqual(await titles('/posts?limit=7'), ['older, retitled']);
});

test('a page made of kept posts is kept no longer than the oldest of them: another instance’s edit shows within the second', async (t) => {
  const testApp = await buildTestApp(t, { contentFeed: unreadableFeed });
  const { token } = await signedIn(testApp);
  const post = await writePost(testApp, token, { title: 'old title' });
  const titles = async (path: string) =>
    (await call(testApp, 'GET', path)).json().data.map((p: { title: string }) => p.title);
  assert.deepEqual(await titles('/posts?limit=5'), ['old title']); // the post kept from now (t = 0)
  await testApp.database.db
    .updateTable('posts')
    .set({ title: 'new title' })
    .where('id', '=', post.id)
    .execute();
  testApp.clock.advance(900);
  // Another page, asked twice: kept from its second asking, made of the post kept at t = 0.
  assert.deepEqual(await titles('/posts?limit=6'), ['old title']);
  assert.deepEqual(await titles('/posts?limit=6'), ['old title']);
  testApp.clock.advance(101); // a second and a millisecond after the post was read
  assert.deepEqual(await titles('/posts?limit=6'), ['new title']);
  assert.deepEqual(await titles('/posts?limit=5'), ['new title']);
});

test('an anonymous page, joined from each post’s kept bytes, is byte for byte what the route’s schema serialises for a caller with a token', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  for (const [i, title] of [
    'Plain',
    'Quotes " and \\ backslash',
    'Ünïcödé ✓ 😀',
    '<script>x</script>',
  ].entries()) {
    testApp.clock.advance(1);
    await writePost(testApp, token, {
      title,
      content: `Body ${i} with *Markdown*\n\nand\ttabs`,
      tags: ['Same'],
    });
  }
  for (const path of ['/posts', '/posts?limit=2', '/posts?limit=3&tag=same', '/posts?q=markdown&limit=2']) {
    const first = await call(testApp, 'GET', path);
    const kept = await call(testApp, 'GET', path); // the posts (and from now on the page) kept
    const mine = await call(testApp, 'GET', path, token); // serialised whole by the route
    assert.equal(first.statusCode, 200);
    assert.equal(first.body, mine.body, path);
    assert.equal(kept.body, mine.body, path);
    assert.equal(first.headers['content-length'], String(Buffer.byteLength(mine.body)));
  }
  const next = (await call(testApp, 'GET', '/posts?limit=2')).json().next_cursor;
  const deeper = await call(testApp, 'GET', `/posts?limit=2&cursor=${next}`);
  assert.equal(deeper.body, (await call(testApp, 'GET', `/posts?limit=2&cursor=${next}`, token)).body);
  assert.equal(deeper.json().data.length, 2);
});

test('a page of long posts ends early (at most about a million characters of text) and its cursor goes on [API4:2023]', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const long = 'word '.repeat(11_999).concat('word');
  for (let i = 0; i < 10; i += 1) {
    testApp.clock.advance(1);
    await writePost(testApp, token, { title: `Long ${i}`, content: long });
  }
  const first = await call(testApp, 'GET', '/posts?limit=20');
  assert.equal(first.json().data.length, 8, 'eight posts of 120,000 characters of content and HTML');
  assert.ok(first.json().next_cursor);
  const rest = await call(testApp, 'GET', `/posts?limit=20&cursor=${first.json().next_cursor}`);
  assert.deepEqual(
    rest.json().data.map((p: { title: string }) => p.title),
    ['Long 1', 'Long 0'],
  );
  assert.equal(rest.json().next_cursor, null);
});

test('HTML made by an older renderer is made again: on read at once, and stored by the scheduler', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  const post = await writePost(testApp, token, { content: 'Some *text*' });
  const comment = (
    await call(testApp, 'POST', `/posts/${post.id}/comments`, token, { body: 'A **comment**' })
  ).json();
  const { db } = testApp.database;
  await db.updateTable('posts').set({ html: '<p>stale</p>', rendered_with: 0 }).execute();
  await db.updateTable('comments').set({ html: '<p>stale</p>', rendered_with: 0 }).execute();
  assert.equal((await call(testApp, 'GET', `/posts/${post.id}`)).json().html, '<p>Some <em>text</em></p>');
  assert.equal(
    (await call(testApp, 'GET', `/posts/${post.id}/comments`)).json().data[0].html,
    '<p>A <strong>comment</strong></p>',
  );
  assert.deepEqual(await runJob(testApp, 'render-stale-posts', testApp.clock.now()), {
    rendered: 1,
    comments: 1,
  });
  const stored = await db.selectFrom('posts').select(['html', 'rendered_with']).executeTakeFirstOrThrow();
  assert.deepEqual([stored.html, Number(stored.rendered_with)], ['<p>Some <em>text</em></p>', 1]);
  const storedComment = await db
    .selectFrom('comments')
    .select(['html'])
    .where('id', '=', comment.id)
    .executeTakeFirstOrThrow();
  assert.equal(storedComment.html, '<p>A <strong>comment</strong></p>');
  assert.deepEqual(await runJob(testApp, 'render-stale-posts', testApp.clock.now()), {
    rendered: 0,
    comments: 0,
  });
});
