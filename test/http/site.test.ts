import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFeed } from '@rowanmanning/feed-parser';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { buildTestApp, describeEachEngine, signedIn, twoInstances, unreadableFeed } from '../helpers/app.ts';
import { browse, call, writePost, XSS } from '../helpers/blog.ts';

/** No element or attribute that runs anything: markup is read tag by tag, attribute by attribute. */
function inert(page: string, where: string) {
  for (const [tag, name = '', rest = ''] of page.matchAll(
    /<([a-z][a-z0-9-]*)((?:\s+[^\s=>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*\/?>/gi,
  )) {
    assert.doesNotMatch(
      name,
      /^(script|iframe|svg|object|embed|form|input|base|frame|math)$/i,
      `${where}: ${tag}`,
    );
    for (const [, attribute = '', value = ''] of rest.matchAll(
      /([^\s=>]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?/g,
    )) {
      assert.doesNotMatch(attribute, /^(on|srcdoc$|formaction$|style$)/i, `${where}: ${tag}`);
      if (/^(href|src)$/i.test(attribute))
        assert.doesNotMatch(
          value.replace(/^["']|["']$/g, '').trim(),
          /^(javascript|vbscript|data):/i,
          `${where}: ${tag}`,
        );
    }
  }
}

describeEachEngine('the reader site', (engine) => {
  test('GET / for a browser is the home page (Vary: Accept); for an API client the JSON welcome [RFC9110 §12.5.1]', async (t) => {
    const testApp = await buildTestApp(t, {
      engine,
      env: { SITE_TITLE: 'Ada’s <notebook>', SITE_DESCRIPTION: 'Engines & numbers' },
    });
    const { token } = await signedIn(testApp);
    await writePost(testApp, token, { title: 'First post', tags: ['Engines'], content: 'Hello *there*.' });
    const page = await browse(testApp, '/');
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers.vary, 'Accept');
    assert.equal(page.headers['cache-control'], 'public, max-age=60');
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /^default-src 'none';/);
    assert.match(csp, /img-src https:;/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /script-src/);
    assert.match(page.body, /<html lang="en">/);
    assert.match(page.body, /<title>Ada’s &lt;notebook&gt;<\/title>/);
    assert.match(page.body, /<meta name="description" content="Engines &amp; numbers">/);
    assert.match(page.body, /<link rel="canonical" href="http:\/\/inkgate\.test\/">/);
    assert.match(page.body, /<link rel="alternate" type="application\/atom\+xml" [^>]*href="\/feed\.atom">/);
    assert.match(page.body, /<main>[\s\S]*<a href="\/p\/first-post">First post<\/a>[\s\S]*<\/main>/);
    assert.match(page.body, /<a href="\/tag\/engines">#Engines<\/a>/);
    assert.doesNotMatch(page.body, /<script/i);
    const json = await call(testApp, 'GET', '/', undefined, undefined, { accept: '*/*' });
    assert.deepEqual(json.json(), { message: 'Welcome to your blog!', docs: '/docs' });
    assert.equal(json.headers.vary, 'Accept');
    assert.deepEqual((await call(testApp, 'GET', '/')).json().docs, '/docs');
    const explicit = await call(testApp, 'GET', '/', undefined, undefined, {
      accept: 'application/json, text/html;q=0.5',
    });
    assert.equal(explicit.headers['content-type'], 'application/json; charset=utf-8');
  });

  test('ETag and Last-Modified: a conditional request is 304; a change makes a new ETag [RFC9110 §13.1.2] [RFC9110 §13.1.3]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const post = await writePost(testApp, token, { title: 'Cached' });
    for (const url of ['/', `/p/${post.slug}`, '/feed.atom', '/sitemap.xml']) {
      const first = await browse(testApp, url);
      assert.equal(first.statusCode, 200, url);
      const etag = String(first.headers.etag);
      assert.match(etag, /^"[A-Za-z0-9_-]{27}"$/);
      const again = await browse(testApp, url, { 'if-none-match': etag });
      assert.equal(again.statusCode, 304, url);
      assert.equal(again.body, '');
      assert.equal(again.headers.etag, etag);
    }
    const feed = await browse(testApp, '/feed.atom');
    assert.equal(feed.headers['last-modified'], new Date(post.updated_at).toUTCString());
    const since = await browse(testApp, '/feed.atom', {
      'if-modified-since': String(feed.headers['last-modified']),
    });
    assert.equal(since.statusCode, 304);
    const page = await browse(testApp, `/p/${post.slug}`);
    testApp.clock.advance(2000);
    await call(testApp, 'PATCH', `/posts/${post.id}`, token, { content: 'Changed' });
    const changed = await browse(testApp, `/p/${post.slug}`, { 'if-none-match': String(page.headers.etag) });
    assert.equal(changed.statusCode, 200);
    assert.match(changed.body, /Changed/);
  });

  test('post, tag and author pages: what the contract lists, an old slug 301, a missing page a 404 HTML page', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token, user } = await signedIn(testApp);
    await call(testApp, 'PATCH', '/users/me', token, {
      bio: 'I write <b>things</b>.',
      image: 'https://img.example/me.png',
    });
    const post = await writePost(testApp, token, {
      title: 'A long post',
      content: `## Part one\n\n${'word '.repeat(500)}`,
      tags: ['Long reads'],
      feature_image: 'https://img.example/cover.png',
    });
    await call(testApp, 'POST', `/posts/${post.id}/comments`, token, { body: 'First **comment**' });
    const page = await browse(testApp, `/p/${post.slug}`);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<h1>A long post<\/h1>/);
    assert.match(page.body, /<h2 id="section-part-one">Part one<\/h2>/);
    assert.match(page.body, /3 min read/);
    assert.match(page.body, /<img src="https:\/\/img\.example\/cover\.png" alt="">/);
    assert.match(page.body, /<a href="\/tag\/long-reads">#Long reads<\/a>/);
    assert.match(page.body, /1 comment[\s\S]*First <strong>comment<\/strong>/);
    assert.match(page.body, /<link rel="canonical" href="http:\/\/inkgate\.test\/p\/a-long-post">/);
    const tag = await browse(testApp, '/tag/long-reads');
    assert.match(tag.body, /<h1>#Long reads<\/h1>[\s\S]*A long post/);
    assert.match(tag.body, /href="\/tag\/long-reads\/feed\.atom"/);
    const author = await browse(testApp, `/author/${user.username.toUpperCase()}`);
    assert.equal(author.statusCode, 200);
    assert.match(author.body, /I write &lt;b&gt;things&lt;\/b&gt;\./);
    assert.match(author.body, /A long post/);
    await call(testApp, 'PATCH', `/posts/${post.id}`, token, { slug: 'renamed' });
    const moved = await browse(testApp, `/p/${post.slug}`);
    assert.equal(moved.statusCode, 301);
    assert.equal(moved.headers.location, '/p/renamed');
    for (const url of [
      '/p/nothing-here',
      '/tag/nothing',
      '/author/nobody-at-all',
      '/?cursor=not-ours',
      '/tag/long-reads?cursor=x',
    ]) {
      const missing = await browse(testApp, url);
      assert.equal(missing.statusCode, 404, url);
      assert.equal(missing.headers['content-type'], 'text/html; charset=utf-8');
      assert.match(missing.body, /<h1>Not found<\/h1>/);
      assert.match(missing.body, /<meta name="robots" content="noindex">/);
    }
  });

  test('kept pages: a post page, the home page and the feed show every write at once, never a draft', async (t) => {
    // The site keeps what it renders (a post page by slug, pages and feeds per list page): each
    // step below reads a page that was just kept, writes, and reads it again with no time passing.
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const post = await writePost(testApp, token, { title: 'Kept page', content: 'First words.' });
    const page = () => browse(testApp, '/p/kept-page');
    assert.match((await page()).body, /First words\./);
    assert.match((await browse(testApp, '/')).body, /Kept page/);
    assert.match((await call(testApp, 'GET', '/feed.atom')).body, /Kept page/);

    const first = await page();
    assert.equal(
      (await call(testApp, 'PATCH', `/posts/${post.id}`, token, { content: 'Second words.' })).statusCode,
      200,
    );
    const edited = await page();
    assert.match(edited.body, /Second words\./);
    assert.notEqual(edited.headers.etag, first.headers.etag);

    const comment = await call(testApp, 'POST', `/posts/${post.id}/comments`, token, { body: 'A remark.' });
    assert.equal(comment.statusCode, 201);
    assert.match((await page()).body, /A remark\./);
    await call(testApp, 'PATCH', `/comments/${comment.json().id}`, token, { body: 'A better remark.' });
    assert.match((await page()).body, /A better remark\./);
    await call(testApp, 'PATCH', `/comments/${comment.json().id}`, token, { status: 'pending' });
    assert.doesNotMatch((await page()).body, /remark/);

    await call(testApp, 'PATCH', `/posts/${post.id}`, token, { status: 'draft' });
    assert.equal((await page()).statusCode, 404);
    assert.doesNotMatch((await browse(testApp, '/')).body, /Kept page/);
    assert.doesNotMatch((await call(testApp, 'GET', '/feed.atom')).body, /Kept page/);

    await call(testApp, 'PATCH', `/posts/${post.id}`, token, { status: 'published', slug: 'kept-elsewhere' });
    const moved = await page();
    assert.equal(moved.statusCode, 301);
    assert.equal(moved.headers.location, '/p/kept-elsewhere');
    await call(testApp, 'DELETE', `/posts/${post.id}`, token);
    assert.equal((await browse(testApp, '/p/kept-elsewhere')).statusCode, 404);
    assert.equal((await page()).statusCode, 404);
  });

  test('kept pages: another instance’s write shows within the second when the content feed cannot be read', async (t) => {
    // A write this instance did not make (here: straight to the database) is not seen while the
    // page is kept, and is seen once a second has passed.
    const testApp = await buildTestApp(t, { engine, contentFeed: unreadableFeed });
    const { token } = await signedIn(testApp);
    const post = await writePost(testApp, token, { title: 'Elsewhere', content: 'Old text.' });
    assert.match((await browse(testApp, '/p/elsewhere')).body, /Old text\./);
    await testApp.database.db
      .updateTable('posts')
      .set({ status: 'draft' })
      .where('id', '=', post.id)
      .execute();
    assert.equal((await browse(testApp, '/p/elsewhere')).statusCode, 200, 'kept for the second');
    testApp.clock.advance(999);
    assert.equal((await browse(testApp, '/p/elsewhere')).statusCode, 200, 'kept for the second');
    testApp.clock.advance(1);
    assert.equal((await browse(testApp, '/p/elsewhere')).statusCode, 404);
  });

  test('kept pages and lists: another instance keeps them past the second while it reads the content feed, and drops them at the next look after a write anywhere', async (t) => {
    const { a, b, clock, queries } = await twoInstances(t, engine);
    const { token } = await signedIn(a);
    const post = await writePost(a, token, { title: 'Watched page', content: 'Old text.' });
    await b.app.contentCaughtUp(); // the write's own rows
    const page = () => browse(b, '/p/watched-page');
    const listed = async () =>
      (await call(b, 'GET', '/posts')).json().data.map((p: { title: string }) => p.title);
    assert.match((await page()).body, /Old text\./);
    assert.deepEqual(await listed(), ['Watched page']);
    assert.deepEqual(await listed(), ['Watched page'], 'asked again: kept');

    clock.advance(5000);
    await b.app.contentCaughtUp();
    queries.length = 0;
    assert.match((await page()).body, /Old text\./);
    assert.deepEqual(await listed(), ['Watched page']);
    assert.deepEqual(
      queries.filter((sql) => /"(posts|comments)"/.test(sql)),
      [],
      'five seconds on, no query for posts: the last look began less than a second ago',
    );

    const edited = await call(a, 'PATCH', `/posts/${post.id}`, token, {
      title: 'Watched again',
      content: 'New text.',
    });
    assert.equal(edited.statusCode, 200);
    await b.app.contentCaughtUp();
    assert.match((await page()).body, /New text\./, 'the edit, at the next look');
    assert.deepEqual(await listed(), ['Watched again']);

    const comment = await call(a, 'POST', `/posts/${post.id}/comments`, token, { body: 'A remark.' });
    assert.equal(comment.statusCode, 201);
    await b.app.contentCaughtUp();
    assert.match((await page()).body, /A remark\./, 'a comment');

    await a.database.db.updateTable('posts').set({ status: 'draft' }).where('id', '=', post.id).execute();
    await b.app.contentCaughtUp();
    assert.equal((await page()).statusCode, 404, 'a write by hand: never a draft');
    assert.deepEqual(await listed(), []);
  });

  test('paging: "Older posts" follows the cursor to the end', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    for (let i = 0; i < 23; i += 1) {
      testApp.clock.advance(1);
      await writePost(testApp, token, { title: `Post ${i}` });
    }
    const first = await browse(testApp, '/');
    assert.equal((first.body.match(/<article>/g) ?? []).length, 20);
    const next = /<a rel="next" href="(\/\?cursor=[^"]+)">Older posts<\/a>/.exec(first.body)?.[1];
    assert.ok(next);
    const second = await browse(testApp, next.replaceAll('&amp;', '&'));
    assert.deepEqual(
      [...second.body.matchAll(/>Post (\d+)</g)].map((m) => m[1]),
      ['2', '1', '0'],
    );
    assert.doesNotMatch(second.body, /rel="next"/);
  });

  test('Atom: read by an independent feed parser; RFC 4287’s required elements; ids that survive a new slug [RFC4287 §4.1.1] [RFC4287 §4.1.2] [RFC4287 §4.2.6]', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { SITE_TITLE: 'Notebook' } });
    const { token, user } = await signedIn(testApp);
    const post = await writePost(testApp, token, {
      title: 'Feed <me> & you',
      content: 'Body with *emphasis* and <script>alert(1)</script>',
      tags: ['Feeds'],
      excerpt: 'A summary.',
    });
    const response = await browse(testApp, '/feed.atom');
    assert.equal(response.headers['content-type'], 'application/atom+xml; charset=utf-8');
    assert.equal(XMLValidator.validate(response.body), true);
    const feed = parseFeed(response.body);
    assert.equal(feed.title, 'Notebook');
    assert.equal(feed.self, 'http://inkgate.test/feed.atom');
    assert.equal(feed.items.length, 1);
    const [item] = feed.items;
    assert.equal(item!.id, `urn:uuid:${post.id}`);
    assert.equal(item!.title, 'Feed <me> & you');
    assert.equal(item!.url, 'http://inkgate.test/p/feed-me-you');
    assert.equal(item!.description, 'A summary.');
    assert.match(item!.content ?? '', /<em>emphasis<\/em>/);
    assert.equal(item!.published?.toISOString(), post.published_at);
    assert.deepEqual(
      item!.authors.map((a) => a.name),
      [user.username],
    );
    assert.deepEqual(
      item!.categories.map((c) => c.term),
      ['feeds'],
    );
    // RFC 4287 §4.1.1: the feed's id, title, updated; §4.1.2: each entry's id, title, updated.
    const doc = new XMLParser({ ignoreAttributes: false }).parse(response.body).feed;
    for (const element of ['id', 'title', 'updated', 'author'])
      assert.ok(doc[element] !== undefined, element);
    assert.equal(doc['@_xmlns'], 'http://www.w3.org/2005/Atom');
    for (const element of ['id', 'title', 'updated', 'published', 'author', 'link', 'summary', 'content'])
      assert.ok(doc.entry[element] !== undefined, `entry ${element}`);
    // The content is the sanitised HTML, escaped once: raw HTML of the post is text in it.
    assert.equal(doc.entry.content['@_type'], 'html');
    assert.match(doc.entry.content['#text'], /and &lt;script&gt;alert\(1\)&lt;\/script&gt;<\/p>$/);
    assert.ok(!Number.isNaN(Date.parse(doc.updated)));
    await call(testApp, 'PATCH', `/posts/${post.id}`, token, { slug: 'new-slug', title: 'Retitled' });
    const after = parseFeed((await browse(testApp, '/feed.atom')).body);
    assert.equal(after.items[0]!.id, `urn:uuid:${post.id}`, 'the entry id never changes');
    assert.equal(after.items[0]!.url, 'http://inkgate.test/p/new-slug');
    for (const url of ['/tag/feeds/feed.atom', `/author/${user.username}/feed.atom`]) {
      const other = parseFeed((await browse(testApp, url)).body);
      assert.equal(other.items.length, 1, url);
      assert.equal(other.self, `http://inkgate.test${url}`);
    }
    assert.equal((await browse(testApp, '/author/nobody-else/feed.atom')).statusCode, 404);
  });

  test('the sitemap (sitemaps.org): an index of well-formed urlsets with absolute locs and lastmod; robots.txt names it', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token, user } = await signedIn(testApp);
    const post = await writePost(testApp, token, { title: 'Mapped', tags: ['Maps'] });
    const index = await browse(testApp, '/sitemap.xml');
    assert.equal(index.headers['content-type'], 'application/xml; charset=utf-8');
    assert.equal(XMLValidator.validate(index.body), true);
    const parser = new XMLParser({
      ignoreAttributes: false,
      isArray: (name) => name === 'sitemap' || name === 'url',
    });
    const parsed = parser.parse(index.body).sitemapindex;
    assert.equal(parsed['@_xmlns'], 'http://www.sitemaps.org/schemas/sitemap/0.9');
    const locs: string[] = parsed.sitemap.map((s: { loc: string }) => s.loc);
    const month = post.published_at.slice(0, 7);
    assert.deepEqual(locs, [
      'http://inkgate.test/sitemap/pages.xml',
      `http://inkgate.test/sitemap/posts-${month}.xml`,
    ]);
    const urls: Array<{ loc: string; lastmod?: string }> = [];
    for (const loc of locs) {
      const file = await browse(testApp, loc.replace('http://inkgate.test', ''));
      assert.equal(file.statusCode, 200);
      assert.equal(XMLValidator.validate(file.body), true);
      const set = parser.parse(file.body).urlset;
      assert.equal(set['@_xmlns'], 'http://www.sitemaps.org/schemas/sitemap/0.9');
      urls.push(...set.url);
    }
    assert.ok(urls.length <= 50_000);
    for (const url of urls) {
      assert.match(url.loc, /^http:\/\/inkgate\.test\//);
      if (url.lastmod !== undefined) assert.ok(!Number.isNaN(Date.parse(url.lastmod)));
    }
    assert.deepEqual(
      urls.map((u) => u.loc),
      [
        'http://inkgate.test/',
        'http://inkgate.test/tag/maps',
        `http://inkgate.test/author/${user.username}`,
        'http://inkgate.test/p/mapped',
      ],
    );
    assert.equal(urls[3]!.lastmod, post.updated_at);
    assert.equal((await browse(testApp, '/sitemap/posts-1999-13.xml')).statusCode, 404);
    assert.equal((await browse(testApp, '/sitemap/other.xml')).statusCode, 404);
    const robots = await browse(testApp, '/robots.txt');
    assert.equal(robots.headers['content-type'], 'text/plain; charset=utf-8');
    assert.match(robots.body, /^Sitemap: http:\/\/inkgate\.test\/sitemap\.xml$/m);
    assert.match(robots.body, /^Disallow: \/account\/$/m);
  });

  test('XSS payloads in titles, posts, tags, bios and comments come out of every page and feed as text [ASVS V1.3.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token, user } = await signedIn(testApp);
    await call(testApp, 'PATCH', '/users/me', token, { bio: XSS.join(' '), full_name: XSS[2] });
    const post = await writePost(testApp, token, {
      title: XSS[0],
      content: XSS.join('\n\n'),
      excerpt: XSS[1],
      tags: ['<b>tag</b>'],
    });
    for (const payload of XSS)
      await call(testApp, 'POST', `/posts/${post.id}/comments`, token, { body: payload });
    for (const url of ['/', `/p/${post.slug}`, '/tag/b-tag-b', `/author/${user.username}`]) {
      const page = await browse(testApp, url);
      assert.equal(page.statusCode, 200, url);
      inert(page.body, url);
      assert.match(page.body, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, `${url}: shown as text`);
    }
    for (const url of ['/feed.atom', '/tag/b-tag-b/feed.atom']) {
      const feed = await browse(testApp, url);
      assert.equal(XMLValidator.validate(feed.body), true, url);
      const entries = new XMLParser({ ignoreAttributes: false, isArray: (name) => name === 'entry' }).parse(
        feed.body,
      ).feed.entry;
      for (const entry of entries) inert(entry.content['#text'], `${url} content`);
    }
  });
});
