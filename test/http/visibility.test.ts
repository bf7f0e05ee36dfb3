import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, createUser, describeEachEngine, signedIn, tokenFor } from '../helpers/app.ts';
import { browse, call, writePost } from '../helpers/blog.ts';

/**
 * The one rule (API.md "Blog"): nobody but the author and admins ever sees a draft or a scheduled
 * post. A draft and a scheduled post, with a tag and a word of their own, are looked for in every
 * list, page, count and feed; none may show them.
 */
describeEachEngine('visibility of drafts and scheduled posts', (engine) => {
  test('no list, count, page, feed or sitemap shows them; only the author and admins read them', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const author = await signedIn(testApp);
    const reader = await signedIn(testApp);
    const admin = await createUser(testApp, { role: 'admin' });
    const adminToken = await tokenFor(testApp, admin);
    await call(testApp, 'PUT', `/authors/${author.user.username}/follow`, reader.token);
    const future = new Date(testApp.clock.now().getTime() + 86_400_000).toISOString();
    const draft = await writePost(testApp, author.token, {
      title: 'Secret draft zebra',
      content: 'zebracontent draft',
      status: 'draft',
      tags: ['Hidden tag', 'shared'],
    });
    const scheduled = await writePost(testApp, author.token, {
      title: 'Secret scheduled zebra',
      content: 'zebracontent scheduled',
      status: 'scheduled',
      published_at: future,
      tags: ['Hidden tag', 'shared'],
    });
    const published = await writePost(testApp, author.token, { title: 'Public one', tags: ['shared'] });
    await call(testApp, 'PUT', `/posts/${published.id}/favorite`, reader.token);
    const secrets = [draft, scheduled];
    const leaks = (text: string) =>
      secrets.some((post) => text.includes(post.id) || text.includes(post.slug) || /zebra/i.test(text));

    // Every API list, for anyone, the author included: only published posts.
    for (const token of [undefined, reader.token, author.token, adminToken]) {
      for (const url of [
        '/posts',
        `/posts?author=${author.user.username}`,
        '/posts?tag=hidden-tag',
        '/posts?tag=shared',
        '/posts?q=zebra',
        `/posts?favorited_by=${reader.user.username}`,
      ]) {
        const listed = await call(testApp, 'GET', url, token);
        assert.equal(listed.statusCode, 200, url);
        assert.ok(!leaks(listed.body), `${url} as ${token ? 'a user' : 'anyone'}: ${listed.body}`);
      }
    }
    const feed = await call(testApp, 'GET', '/users/me/feed', reader.token);
    assert.deepEqual(
      feed.json().data.map((p: { id: string }) => p.id),
      [published.id],
    );
    // Counts.
    const tags = (await call(testApp, 'GET', '/tags')).json().data;
    assert.deepEqual(tags, [{ name: 'shared', slug: 'shared', count: 1 }]);
    assert.equal((await call(testApp, 'GET', `/authors/${author.user.username}`)).json().posts_count, 1);
    // One post: 404 for anyone but the author and admins, by id and by slug; no favourite, no comment.
    for (const post of secrets) {
      for (const token of [undefined, reader.token]) {
        assert.equal((await call(testApp, 'GET', `/posts/${post.id}`, token)).statusCode, 404);
        assert.equal((await call(testApp, 'GET', `/posts/slug/${post.slug}`, token)).statusCode, 404);
      }
      for (const token of [author.token, adminToken]) {
        assert.equal((await call(testApp, 'GET', `/posts/${post.id}`, token)).statusCode, 200);
        assert.equal((await call(testApp, 'GET', `/posts/slug/${post.slug}`, token)).statusCode, 200);
      }
      assert.equal((await call(testApp, 'PUT', `/posts/${post.id}/favorite`, reader.token)).statusCode, 404);
      assert.equal((await call(testApp, 'PUT', `/posts/${post.id}/favorite`, author.token)).statusCode, 404);
      assert.equal(
        (await call(testApp, 'POST', `/posts/${post.id}/comments`, author.token, { body: 'x' })).statusCode,
        404,
      );
      assert.equal((await call(testApp, 'GET', `/posts/${post.id}/comments`)).statusCode, 404);
      assert.equal((await browse(testApp, `/p/${post.slug}`)).statusCode, 404);
    }
    // The reader site, its feeds and its sitemap.
    const index = await call(testApp, 'GET', '/sitemap.xml');
    const sitemaps = [...index.body.matchAll(/<loc>http:\/\/inkgate\.test(\/sitemap\/[^<]+)<\/loc>/g)].map(
      (m) => m[1]!,
    );
    assert.ok(sitemaps.length >= 2);
    for (const url of [
      '/',
      '/tag/shared',
      `/author/${author.user.username}`,
      '/feed.atom',
      '/tag/shared/feed.atom',
      `/author/${author.user.username}/feed.atom`,
      ...sitemaps,
    ]) {
      const page = await browse(testApp, url);
      assert.equal(page.statusCode, 200, url);
      assert.ok(!leaks(page.body), `${url}: ${page.body}`);
      if (!url.endsWith('/pages.xml'))
        assert.ok(page.body.includes(published.slug), `${url} shows the published post`);
      assert.doesNotMatch(page.body, /@example\.com/, `${url}: no email address`);
    }
    assert.equal((await browse(testApp, '/tag/hidden-tag')).statusCode, 404);
    assert.equal((await browse(testApp, '/tag/hidden-tag/feed.atom')).statusCode, 404);
    // The author's own list shows all three.
    const mine = await call(testApp, 'GET', '/users/me/posts', author.token);
    assert.equal(mine.json().data.length, 3);
  });
});
