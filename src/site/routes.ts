import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { boundedCache, stringBytes } from '../bounded-cache.ts';
import type { CommentsService } from '../comments/service.ts';
import { parseCursor } from '../db/cursor.ts';
import { htmlResponse, READER_HEADERS } from '../html/page.ts';
import { HttpError } from '../http/errors.ts';
import { Type } from '../http/json-schema.ts';
import type { ListPage, ListQuery, PostsService } from '../posts/service.ts';
import { atomFeed } from './feeds.ts';
import { createSitePages, type Site } from './pages.ts';
import { robotsTxt, SITEMAP_MAX, sitemapIndex, urlSet } from './sitemap.ts';

/** Posts on a page of the site and in a feed. */
const PAGE_SIZE = 20;
/** Visible comments shown under a post, oldest first. */
const COMMENTS_SHOWN = 200;
/** How long a sitemap is reused (it is the same for everyone, and long). */
const SITEMAP_CACHE_MS = 60_000;

const XML_HEADERS = { 'cache-control': 'public, max-age=60' };

export interface SiteAnswer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
  /** Its strong validator, made once with the answer (a kept answer is hashed once). */
  readonly etag?: string;
  /** The body's UTF-8 bytes, made once with the answer (a kept answer is encoded once). */
  readonly bytes?: Buffer;
  readonly lastModified?: string | undefined;
  readonly location?: string | undefined;
}

/** The strong validator of an answer's bytes. */
const etagOf = (body: string | Buffer) =>
  `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;

/** An answer's bytes and their validator, made once. */
const made = (body: string) => {
  const bytes = Buffer.from(body);
  return { bytes, etag: etagOf(bytes) };
};

/**
 * Sends a reader answer with its validators: ETag always, Last-Modified when known; 304 (no body)
 * when If-None-Match names it, or — without If-None-Match — when If-Modified-Since is not older
 * than it (RFC 9110 §13.1.3).
 */
export function sendSiteAnswer(request: FastifyRequest, reply: FastifyReply, answer: SiteAnswer) {
  if (answer.location !== undefined)
    return reply.code(answer.status).headers(READER_HEADERS).header('location', answer.location).send('');
  const headers: Record<string, string> = answer.type.startsWith('text/html')
    ? { ...READER_HEADERS }
    : { ...XML_HEADERS, 'content-type': answer.type };
  const etag = answer.etag ?? etagOf(answer.body);
  headers.etag = etag;
  if (answer.lastModified !== undefined)
    headers['last-modified'] = new Date(answer.lastModified).toUTCString();
  reply.headers(headers);
  if (answer.status === 200) {
    const ifNoneMatch = request.headers['if-none-match'];
    const ifModifiedSince = request.headers['if-modified-since'];
    const matched =
      ifNoneMatch !== undefined
        ? ifNoneMatch.trim() === '*' ||
          ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)
        : ifModifiedSince !== undefined &&
          answer.lastModified !== undefined &&
          Math.floor(new Date(answer.lastModified).getTime() / 1000) <= Date.parse(ifModifiedSince) / 1000;
    if (matched) return reply.code(304).send();
  }
  return reply.code(answer.status).send(answer.bytes ?? answer.body);
}

/**
 * The reader site (API.md "Reader site"): pages, Atom feeds, the sitemap and robots.txt, for
 * anyone, with only published posts and visible comments (the posts service's public list and its
 * one visibility rule), no script, and validators on every answer.
 */
export function createSite(deps: { posts: PostsService; comments: CommentsService; site: Site }) {
  const { posts, comments, site } = deps;
  const pages = createSitePages(site);
  const html = (body: string, status = 200): SiteAnswer => ({
    status,
    type: 'text/html; charset=utf-8',
    body,
    ...made(body),
  });
  const notFound = () => html(pages.notFound(), 404);
  const atom = (xml: string, updated: string): SiteAnswer => ({
    status: 200,
    type: 'application/atom+xml; charset=utf-8',
    body: xml,
    ...made(xml),
    lastModified: updated,
  });

  /**
   * Pages and feeds made from a list page, made once per page object: the posts service's list cache
   * answers the same object while it holds (emptied by every write and every change the content feed
   * names; posts/service.ts LIST_CACHE_MS), so the
   * answer is rendered and hashed once for each change, not for each request — and can hold nothing
   * the list did not (published posts only). `key` names the answer and what else it shows.
   */
  const fromList = new WeakMap<ListPage, Map<string, SiteAnswer>>();
  function madeFrom(page: ListPage, key: string, make: () => SiteAnswer): SiteAnswer {
    let answers = fromList.get(page);
    if (!answers) {
      answers = new Map();
      fromList.set(page, answers);
    }
    let answer = answers.get(key);
    if (!answer) {
      answer = make();
      answers.set(key, answer);
    }
    return answer;
  }

  /**
   * Post pages (and an old slug's 301), kept by slug as the lists are (the posts service's fresh()):
   * stale at once after any write through the posts service on this instance (a post's edit, status
   * or slug, a comment, a moderation, a deletion) and any change the content feed names, and past
   * LIST_CACHE_MS when the feed is not being read.
   */
  const postPages = boundedCache<string, { answer: SiteAnswer; version: number; at: number }>({
    entries: 1000,
    bytes: 16 * 1024 * 1024,
    sizeOf: ({ answer }, slug) => stringBytes(answer.body) + stringBytes(slug) + 200,
  });

  /** A public list page, or undefined for a cursor that is not ours (the page is then missing). */
  async function listPage(query: ListQuery): Promise<ListPage | undefined> {
    if (query.cursor !== undefined && parseCursor(query.cursor) === undefined) return undefined;
    return posts.listPublic({ ...query, limit: PAGE_SIZE });
  }

  const findAuthor = (username: string) =>
    posts.author(username).catch((error: unknown) => {
      if (error instanceof HttpError && error.status === 404) return undefined;
      throw error;
    });

  // A month's sitemap may be megabytes (up to 50,000 URLs): bytes bind as well as entries.
  const sitemaps = boundedCache<string, string>({
    entries: 500,
    bytes: 8 * 1024 * 1024,
    sizeOf: (body) => stringBytes(body),
    ttl: SITEMAP_CACHE_MS,
  });
  async function sitemap(
    name: string,
    make: () => Promise<string | undefined>,
  ): Promise<SiteAnswer | undefined> {
    let body = sitemaps.get(name);
    if (body === undefined) {
      body = await make();
      if (body === undefined) return undefined;
      sitemaps.set(name, body);
    }
    return { status: 200, type: 'application/xml; charset=utf-8', body };
  }

  return {
    home: async (cursor: string | undefined): Promise<SiteAnswer> => {
      const page = await listPage({ cursor });
      if (!page) return notFound();
      return madeFrom(page, `home ${cursor !== undefined}`, () =>
        html(pages.home(page, cursor !== undefined)),
      );
    },

    post: async (slug: string): Promise<SiteAnswer> => {
      const kept = postPages.get(slug);
      if (kept && posts.fresh(kept)) return kept.answer;
      const read = posts.readNow();
      const found = await posts.findPublished(slug);
      if (!found) return notFound();
      const answer: SiteAnswer =
        'moved' in found
          ? { status: 301, type: '', body: '', location: `/p/${found.moved}` }
          : html(pages.post(found.post, await comments.listVisible(found.post.id, COMMENTS_SHOWN)));
      // Kept only if nothing was written meanwhile (a write during the reads may not be in them).
      if (posts.stillNow(read)) postPages.set(slug, { answer, ...read });
      return answer;
    },

    tag: async (slug: string, cursor: string | undefined): Promise<SiteAnswer> => {
      const tag = await posts.findTag(slug);
      const page = tag && tag.count > 0 ? await listPage({ tag: slug, cursor }) : undefined;
      if (!tag || !page) return notFound();
      return madeFrom(page, JSON.stringify(['tag', tag.name, tag.count, cursor !== undefined]), () =>
        html(pages.tag(tag, page, cursor !== undefined)),
      );
    },

    author: async (username: string, cursor: string | undefined): Promise<SiteAnswer> => {
      const author = await findAuthor(username);
      const page = author ? await listPage({ author: author.username, cursor }) : undefined;
      if (!author || !page) return notFound();
      return madeFrom(page, JSON.stringify(['author', author, cursor !== undefined]), () =>
        html(pages.author(author, page, cursor !== undefined)),
      );
    },

    feed: async (): Promise<SiteAnswer> => {
      const page = (await listPage({}))!;
      return madeFrom(page, 'feed', () => {
        const { xml, updated } = atomFeed(
          site,
          { path: '/feed.atom', title: site.title, alternate: '/' },
          page.data,
        );
        return atom(xml, updated);
      });
    },

    tagFeed: async (slug: string): Promise<SiteAnswer> => {
      const tag = await posts.findTag(slug);
      if (!tag || tag.count === 0) return notFound();
      const page = (await listPage({ tag: slug }))!;
      const path = `/tag/${tag.slug}`;
      const { xml, updated } = atomFeed(
        site,
        { path: `${path}/feed.atom`, title: `#${tag.name} · ${site.title}`, alternate: path },
        page.data,
      );
      return atom(xml, updated);
    },

    authorFeed: async (username: string): Promise<SiteAnswer> => {
      const author = await findAuthor(username);
      if (!author) return notFound();
      const page = (await listPage({ author: author.username }))!;
      const path = `/author/${author.username}`;
      const { xml, updated } = atomFeed(
        site,
        {
          path: `${path}/feed.atom`,
          title: `${author.full_name || author.username} · ${site.title}`,
          alternate: path,
        },
        page.data,
      );
      return atom(xml, updated);
    },

    sitemapIndex: async (): Promise<SiteAnswer> =>
      (await sitemap('index', async () => sitemapIndex(site, await posts.publishedMonths())))!,

    sitemapFile: async (name: string): Promise<SiteAnswer> => {
      const made = await sitemap(name, async () => {
        if (name === 'pages') {
          const [tags, authors] = [
            await posts.listedTags(SITEMAP_MAX / 2),
            await posts.listedAuthors(SITEMAP_MAX / 2 - 1),
          ];
          return urlSet(site, [
            { path: '/' },
            ...tags.map((slug) => ({ path: `/tag/${slug}` })),
            ...authors.map((username) => ({ path: `/author/${username}` })),
          ]);
        }
        const month = /^posts-(\d{4}-(?:0[1-9]|1[0-2]))$/.exec(name)?.[1];
        if (month === undefined) return undefined;
        const listed = await posts.publishedIn(month, SITEMAP_MAX);
        return urlSet(
          site,
          listed.map((post) => ({ path: `/p/${post.slug}`, lastmod: post.updated })),
        );
      });
      return made ?? notFound();
    },

    robots: (): SiteAnswer => ({ status: 200, type: 'text/plain; charset=utf-8', body: robotsTxt(site) }),
  };
}

export type SiteService = ReturnType<typeof createSite>;

const Slug = Type.String({ maxLength: 200 });
const CursorQuery = Type.Object(
  { cursor: Type.Optional(Type.String({ maxLength: 200, description: 'the "Older posts" link’s' })) },
  { additionalProperties: false },
);

export const siteRoutes: FastifyPluginAsyncTypebox<{ site: SiteService }> = async (app, { site }) => {
  const page = (description: string) => ({
    200: htmlResponse(description),
    304: { description: 'Not modified (If-None-Match / If-Modified-Since)' },
    404: htmlResponse('No such page'),
  });
  const xml = (description: string, type: string) => ({
    200: { description, content: { [type]: { schema: { type: 'string' } } } },
    304: { description: 'Not modified (If-None-Match / If-Modified-Since)' },
    404: htmlResponse('No such feed'),
  });
  const send = (request: FastifyRequest, reply: FastifyReply) => (answer: SiteAnswer) =>
    sendSiteAnswer(request, reply, answer);

  app.get(
    '/p/:slug',
    {
      schema: {
        tags: ['pages'],
        summary: 'A post’s page',
        description:
          'Its HTML, author, date, reading time, tags and visible comments. An old slug answers 301.',
        params: Type.Object({ slug: Slug }),
        response: { ...page('The post'), 301: { description: 'An old slug: to the current one' } },
      },
    },
    async (request, reply) => send(request, reply)(await site.post(request.params.slug)),
  );

  app.get(
    '/tag/:slug',
    {
      schema: {
        tags: ['pages'],
        summary: 'A tag’s page: its published posts, newest first',
        description: 'Twenty a page; "Older posts" by `cursor`. A tag with no published post is a 404 page.',
        params: Type.Object({ slug: Slug }),
        querystring: CursorQuery,
        response: page('The tag’s posts'),
      },
    },
    async (request, reply) => send(request, reply)(await site.tag(request.params.slug, request.query.cursor)),
  );

  app.get(
    '/author/:username',
    {
      schema: {
        tags: ['pages'],
        summary: 'An author’s page: bio and published posts, newest first',
        description:
          'Their name, picture and bio, then their posts, twenty a page (`cursor`). An unknown author is a 404 page.',
        params: Type.Object({ username: Slug }),
        querystring: CursorQuery,
        response: page('The author’s posts'),
      },
    },
    async (request, reply) =>
      send(request, reply)(await site.author(request.params.username, request.query.cursor)),
  );

  const atomType = 'application/atom+xml';
  app.get(
    '/feed.atom',
    {
      schema: {
        tags: ['pages'],
        summary: 'Atom feed of the 20 newest published posts',
        description:
          'RFC 4287; entry ids (`urn:uuid:`) never change. ETag and Last-Modified; 304 on conditional requests.',
        response: xml('Atom (RFC 4287)', atomType),
      },
    },
    async (request, reply) => send(request, reply)(await site.feed()),
  );
  app.get(
    '/tag/:slug/feed.atom',
    {
      schema: {
        tags: ['pages'],
        summary: 'Atom feed of a tag’s 20 newest published posts',
        description: 'As /feed.atom, for one tag (its slug).',
        params: Type.Object({ slug: Slug }),
        response: xml('Atom (RFC 4287)', atomType),
      },
    },
    async (request, reply) => send(request, reply)(await site.tagFeed(request.params.slug)),
  );
  app.get(
    '/author/:username/feed.atom',
    {
      schema: {
        tags: ['pages'],
        summary: 'Atom feed of an author’s 20 newest published posts',
        description: 'As /feed.atom, for one author.',
        params: Type.Object({ username: Slug }),
        response: xml('Atom (RFC 4287)', atomType),
      },
    },
    async (request, reply) => send(request, reply)(await site.authorFeed(request.params.username)),
  );

  app.get(
    '/sitemap.xml',
    {
      schema: {
        tags: ['pages'],
        summary: 'Sitemap index (sitemaps.org): the site’s pages, and the posts of each month',
        description:
          'Names `/sitemap/pages.xml` and one `/sitemap/posts-YYYY-MM.xml` for each month from the first published post to the last.',
        response: xml('A sitemap index', 'application/xml'),
      },
    },
    async (request, reply) => send(request, reply)(await site.sitemapIndex()),
  );
  app.get(
    '/sitemap/:name.xml',
    {
      schema: {
        tags: ['pages'],
        summary:
          'One sitemap: `pages` (home, tags, authors) or `posts-YYYY-MM` (that month’s posts, with lastmod)',
        description: 'At most 50,000 URLs (sitemaps.org), absolute, with `lastmod` for posts.',
        params: Type.Object({ name: Type.String({ maxLength: 40 }) }),
        response: xml('A sitemap', 'application/xml'),
      },
    },
    async (request, reply) => send(request, reply)(await site.sitemapFile(request.params.name)),
  );

  app.get(
    '/robots.txt',
    {
      schema: {
        tags: ['pages'],
        summary: 'robots.txt, naming the sitemap',
        description:
          'Every public page may be crawled; the account pages and the API documentation are left out.',
        response: {
          200: { description: 'robots.txt', content: { 'text/plain': { schema: { type: 'string' } } } },
        },
      },
    },
    async (request, reply) => send(request, reply)(site.robots()),
  );
};
