import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { Principal } from '../authz/principal.ts';
import { boundedCache, stringBytes } from '../bounded-cache.ts';
import type { Clock } from '../clock.ts';
import type { Change, ChangeFeed } from '../db/change-feed.ts';
import { watchChanges } from '../db/change-watch.ts';
import { encodeCursor, toPageBy } from '../db/cursor.ts';
import { isUuid } from '../db/ids.ts';
import type { PostStatus, PostUpdate } from '../db/schema.ts';
import {
  ConflictError,
  ForbiddenError,
  HttpError,
  NotFoundError,
  ServiceUnavailableError,
  UnprocessableError,
} from '../http/errors.ts';
import { decodeCursor } from '../http/pagination.ts';
import { RENDERER_VERSION, renderPost } from './markdown.ts';
import {
  type AuthorRow,
  type ListPostsFilter,
  type PostsRepository,
  type PostWithAuthor,
  SearchUnavailableError,
  SlugTakenError,
} from './repository.ts';
import { EXCERPT_MAX, TITLE_MAX } from './schemas.ts';
import { slugFromTitle, slugProblem } from './slugs.ts';
import { parseTags, type TagName } from './tags.ts';
import { canSee, mayChange, type Viewer, viewerOf } from './visibility.ts';

export type PostsService = ReturnType<typeof createPostsService>;

export type PublicPost = ReturnType<typeof toPublic>;

/** A public list's query (GET /posts, the reader site, the feeds). */
export interface ListQuery {
  readonly author?: string | undefined;
  readonly tag?: string | undefined;
  readonly favorited_by?: string | undefined;
  readonly q?: string | undefined;
  readonly limit?: number | undefined;
  readonly cursor?: string | undefined;
}

export type ListPage = { readonly data: PublicPost[]; readonly next_cursor: string | null };

/** What a writer sends (POST, PUT, PATCH); the service checks what the schema cannot. */
export interface PostInput {
  readonly title?: string | undefined;
  readonly content?: string | undefined;
  readonly excerpt?: string | undefined;
  readonly tags?: readonly string[] | undefined;
  readonly slug?: string | undefined;
  readonly status?: PostStatus | undefined;
  readonly published_at?: string | null | undefined;
  readonly feature_image?: string | null | undefined;
}

/** What is made from the Markdown, from the stored render when its renderer is current. */
function rendered(row: PostWithAuthor) {
  if (row.rendered_with >= RENDERER_VERSION)
    return { html: row.html, summary: row.summary, readingMinutes: row.reading_minutes };
  const made = renderPost(row.content);
  return { html: made.html, summary: row.excerpt || made.excerpt, readingMinutes: made.readingMinutes };
}

function toPublic(row: PostWithAuthor, favorited = false) {
  const made = rendered(row);
  return {
    id: row.id,
    slug: row.slug,
    title: row.title,
    content: row.content,
    html: made.html,
    excerpt: made.summary,
    tags: JSON.parse(row.tags) as string[],
    status: row.status,
    published_at: row.published_at?.toISOString() ?? null,
    feature_image: row.feature_image,
    reading_minutes: made.readingMinutes,
    comments_count: Number(row.comments_count),
    favorites_count: Number(row.favorites_count),
    favorited,
    author: { id: row.author_id, username: row.author_username },
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** The post's strong validator (RFC 9110 §8.8.3): a hash of its answer, so it changes with any byte of it. */
export function etagOf(post: PublicPost): string {
  return `"${createHash('sha256').update(JSON.stringify(post)).digest('base64url').slice(0, 27)}"`;
}

/** RFC 9110 §13.1.1: `*`, or one of the listed entity tags by strong comparison (a weak one never matches). */
function ifMatchHolds(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header
    .split(',')
    .map((tag) => tag.trim())
    .some((tag) => tag === etag);
}

export class PreconditionFailedError extends HttpError {
  constructor() {
    super(412, 'precondition_failed', 'the post has changed since the ETag you sent; read it again');
  }
}

function cleanTitle(title: string): string {
  const trimmed = title.trim();
  const length = [...trimmed].length;
  if (length < 1 || length > TITLE_MAX) {
    throw new UnprocessableError([
      { path: '/title', message: `must be 1 to ${TITLE_MAX} characters after trimming` },
    ]);
  }
  return trimmed;
}

function cleanExcerpt(excerpt: string): string {
  const trimmed = excerpt.trim();
  if ([...trimmed].length > EXCERPT_MAX)
    throw new UnprocessableError([{ path: '/excerpt', message: `at most ${EXCERPT_MAX} characters` }]);
  return trimmed;
}

/** An absolute https URL with a host, or null (the schema checked the form). */
function cleanImage(url: string | null): string | null {
  if (url === null) return null;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (
    parsed?.protocol !== 'https:' ||
    parsed.hostname === '' ||
    parsed.username !== '' ||
    parsed.password !== ''
  )
    throw new UnprocessableError([
      { path: '/feature_image', message: 'must be an absolute https URL, or null' },
    ]);
  return parsed.href;
}

function cleanSlug(slug: string): string {
  const problem = slugProblem(slug);
  if (problem) throw new UnprocessableError([{ path: '/slug', message: problem }]);
  return slug;
}

/**
 * Status and published_at after a write (API.md "Blog"): published (by default) at the time given
 * (not in the future) or now, keeping the time it was first published; a draft has none; a
 * scheduled post needs a future one, and is published then by the scheduler.
 */
function schedule(
  current: { status: PostStatus; published_at: Date | null } | undefined,
  input: PostInput,
  now: Date,
): { status: PostStatus; published_at: Date | null } {
  // A scheduled post whose time came (the scheduler publishes it within seconds) is published already.
  const due =
    current?.status === 'scheduled' &&
    current.published_at !== null &&
    current.published_at.getTime() <= now.getTime();
  const status = input.status ?? (due ? 'published' : current?.status) ?? 'published';
  const given =
    input.published_at === undefined || input.published_at === null
      ? input.published_at
      : new Date(input.published_at);
  const wrong = (message: string) => new UnprocessableError([{ path: '/published_at', message }]);
  if (status === 'draft') {
    if (given) throw wrong('a draft has no published_at (send null, or leave it out)');
    return { status, published_at: null };
  }
  if (status === 'scheduled') {
    const at =
      given ?? (given === undefined && current?.status === 'scheduled' ? current.published_at : null);
    if (!at || at.getTime() <= now.getTime())
      throw wrong('a scheduled post needs a published_at in the future');
    return { status, published_at: at };
  }
  const at = given ?? (current?.status === 'published' || due ? current!.published_at : null) ?? now;
  if (at.getTime() > now.getTime()) throw wrong('is in the future: send status scheduled to publish it then');
  return { status, published_at: at };
}

/**
 * The text one page of posts may carry (content and HTML, in characters): a page of long posts ends
 * early, with a next_cursor, so that no answer's serialisation holds the event loop for long (API.md:
 * 100 ms at most, whatever the data). Twenty posts of 25,000 characters fit.
 */
const PAGE_TEXT_BUDGET = 1_000_000;

/** How many of `posts` a page keeps: up to `limit`, within the text budget, at least one. */
function withinTextBudget(posts: ReadonlyArray<{ content: string; html: string }>, limit: number): number {
  let text = 0;
  for (let i = 0; i < Math.min(limit, posts.length); i += 1) {
    text += posts[i]!.content.length + posts[i]!.html.length;
    if (text > PAGE_TEXT_BUDGET && i > 0) return i;
  }
  return limit;
}

/**
 * How far a public list or page may lag another instance's writes: what is kept from public reads
 * is reused this long after it was read, or — while this instance reads the content change feed —
 * for as long as its last complete look began less than this long ago (up to PUBLIC_KEPT_MAX_MS).
 */
export const LIST_CACHE_MS = 1000;
/** While the content feed is read, what is kept is still read again at least this often. */
const PUBLIC_KEPT_MAX_MS = 60_000;
/** Scheduled posts published by one run of the scheduler, at most (the next run takes the rest). */
const PUBLISH_BATCH = 500;
const RENDER_BATCH = 200;
const TAGS_LISTED = 100;

/** A value kept from a public read: when it was read, and under which version of this instance's writes. */
interface Kept<T> {
  readonly value: T;
  readonly version: number;
  readonly at: number;
}

/** A change to what anyone's view of the blog shows (content_changes, migration 0018). */
export type ContentChange = Change<'post' | 'comment' | 'tag' | 'user'>;
/** The feed of those changes. */
export type ContentFeed = ChangeFeed<ContentChange['kind']>;

export function createPostsService(deps: {
  posts: PostsRepository;
  clock: Clock;
  /** The database's content change feed; without one, what is kept is reused for LIST_CACHE_MS. */
  feed?: ContentFeed | undefined;
  /** A look at the feed failed (what is kept is then reused for LIST_CACHE_MS after it was read). */
  onFeedError?: ((error: unknown) => void) | undefined;
}) {
  const { posts, clock } = deps;
  /** The caches' own bound: past it an entry is gone; fresh() says whether one not yet gone may serve. */
  const keptMs = deps.feed ? PUBLIC_KEPT_MAX_MS : LIST_CACHE_MS;

  /**
   * Public list pages (anyone's view: published posts, `favorited` false), kept by the injected
   * clock while fresh() says so: the front page is what everyone reads, and the same for everyone.
   * Keyed by the normalised query, so junk parameters cannot push pages out; a page is the same
   * object while kept, so its route serialises it once. Every write through this service (posts,
   * favourites, follows, comments' counts, an author's deletion) empties it, so a writer always reads
   * their own write; other instances' writes show within the second (through the content feed, or
   * by the page's age when the feed cannot be read).
   */
  const pageCache = <Page extends ListPage>() =>
    boundedCache<string, Kept<Page>>({
      entries: 1000,
      // Half of the 8 MiB the serialised pages had alone: the route keeps each page's text beside it.
      bytes: 4 * 1024 * 1024,
      sizeOf: ({ value: page }) =>
        page.data.reduce((bytes, post) => bytes + post.content.length + post.html.length + 400, 0),
      ttl: keptMs,
      perf: { now: () => clock.now().getTime() },
      ttlResolution: 0, // every read asks the clock (a cached "now" would run on real time)
    });
  const lists = pageCache<ListPage>();
  /** The same, for lists paged by offset (the RealWorld API's), with the total they are part of. */
  const offsetLists = pageCache<ListPage & { count: number }>();
  /**
   * The keys of pages asked for once within the second: a page is kept from its second asking on.
   * One asked for once (a deep cursor, a one-off filter) serves no one else, and kept for a second it
   * outlives V8's young generation: 5,000 distinct pages, each kept and dropped, grew the old one
   * with their garbage (the benchmark's W2c took the RSS from ~220 to ~440 MB).
   */
  const askedOnce = boundedCache<string, true>({
    entries: 10_000,
    bytes: 4 * 1024 * 1024,
    sizeOf: (_, key) => stringBytes(key) + 32,
    ttl: LIST_CACHE_MS,
    perf: { now: () => clock.now().getTime() },
    ttlResolution: 0,
  });
  /** Whether a page just read for `key` is worth keeping: it was asked for before, within the second. */
  const askedAgain = (key: string): boolean => {
    if (askedOnce.has(key)) return true;
    askedOnce.set(key, true);
    return false;
  };
  /**
   * Each listed post as lists show it (anyone's view), kept as the pages are: a page the list
   * cache does not hold (a deep cursor, a tag's, a search's) is its keys from the listing index
   * and these, so that its posts are read, made and serialised (the route keeps each one's bytes
   * beside it) once a second rather than once a page. Sized as the pages are, text counted twice.
   */
  const postsById = boundedCache<string, Kept<PublicPost>>({
    entries: 10_000,
    bytes: 8 * 1024 * 1024,
    sizeOf: ({ value: post }) => 2 * (post.content.length + post.html.length + post.excerpt.length) + 800,
    ttl: keptMs,
    perf: { now: () => clock.now().getTime() },
    ttlResolution: 0,
  });
  /** Authors' public profiles as lists show them, kept as the lists are. */
  const profiles = boundedCache<
    string,
    Kept<{ id: string; username: string; bio: string; image: string | null }>
  >({
    entries: 10_000,
    bytes: 4 * 1024 * 1024,
    sizeOf: ({ value: profile }) =>
      stringBytes(profile.id) +
      stringBytes(profile.username) +
      stringBytes(profile.bio) +
      stringBytes(profile.image ?? '') +
      64,
    ttl: keptMs,
    perf: { now: () => clock.now().getTime() },
    ttlResolution: 0,
  });
  // Moves on every write through this service and every change the content feed names: what was
  // made from an earlier read is stale.
  let version = 0;
  const written = <T>(result: T): T => {
    version += 1;
    lists.clear();
    offsetLists.clear();
    postsById.clear();
    profiles.clear();
    return result;
  };
  // The content feed (db/change-watch.ts: four looks a second): any change it names, or a look that
  // cannot know what it missed, is a write from elsewhere.
  const watch = watchChanges({
    feed: deps.feed,
    clock,
    onChanges: () => written(undefined),
    onForgetAll: () => written(undefined),
    onError: deps.onFeedError,
  });
  /** Whether what was read at `at` under this `version` may still be served (LIST_CACHE_MS above). */
  const fresh = (kept: { version: number; at: number }, now = clock.now().getTime()): boolean => {
    const age = now - kept.at;
    return (
      kept.version === version &&
      age >= 0 &&
      (age < LIST_CACHE_MS || (age < PUBLIC_KEPT_MAX_MS && watch.current(now, LIST_CACHE_MS)))
    );
  };
  /** What a read made, dated for fresh(). */
  const dated = <T>(value: T, read: { version: number; at: number }): Kept<T> => ({ value, ...read });
  const readNow = () => ({ version, at: clock.now().getTime() });
  /** Whether no write came since `read` (what it made may be kept). */
  const stillNow = (read: { version: number }) => read.version === version;
  /** A kept value that may still serve, or undefined. */
  const keptValue = <T>(kept: Kept<T> | undefined): T | undefined =>
    kept && fresh(kept) ? kept.value : undefined;

  /** A search refused for its cost is a 503 with Retry-After (API.md "Abuse limits"). */
  async function search(text: string, filter: ListPostsFilter) {
    try {
      return await posts.search(text, filter);
    } catch (error) {
      if (error instanceof SearchUnavailableError)
        throw new ServiceUnavailableError(error.message, 1, { cause: error.cause ?? error });
      throw error;
    }
  }

  const notFound = () => new NotFoundError('post not found', 'post_not_found');

  /** The post if `viewer` may see it (visibility.ts); a post they may not is as missing as none. */
  async function visible(id: string, viewer: Viewer | undefined): Promise<PostWithAuthor> {
    const row = isUuid(id) ? await posts.findById(id) : undefined;
    if (!row || !canSee(row, viewer)) throw notFound();
    return row;
  }

  function authorise(row: PostWithAuthor, viewer: Viewer): void {
    if (!canSee(row, viewer)) throw notFound();
    if (!mayChange(row, viewer))
      throw new ForbiddenError('only the author of this post or an admin may change it', 'not_author');
  }

  async function answer(row: PostWithAuthor, viewer: Viewer | undefined) {
    const favorited = viewer ? (await posts.favoritedAmong(viewer.userId, [row.id])).has(row.id) : false;
    const post = toPublic(row, favorited);
    return { post, etag: etagOf(post) };
  }

  async function withFavorited(page: ListPage, viewer: Viewer | undefined): Promise<ListPage> {
    if (!viewer || page.data.length === 0) return page;
    const mine = await posts.favoritedAmong(
      viewer.userId,
      page.data.map((post) => post.id),
    );
    if (mine.size === 0) return page;
    return {
      data: page.data.map((post) => (mine.has(post.id) ? { ...post, favorited: true } : post)),
      next_cursor: page.next_cursor,
    };
  }

  /**
   * The kept list view of a post while it may serve; `made.at` becomes the oldest reading a list
   * was made from, so that a page made of kept posts is no younger than they are.
   */
  function keptPost(id: string, made: { at: number }): PublicPost | undefined {
    const kept = postsById.get(id);
    if (!kept || !fresh(kept)) return undefined;
    made.at = Math.min(made.at, kept.at);
    return kept.value;
  }

  /** The post made from `row` as lists show it: the kept one while it may serve, else made and kept. */
  function listed(
    row: PostWithAuthor,
    read: { version: number; at: number },
    made: { at: number },
  ): PublicPost {
    const kept = keptPost(row.id, made);
    if (kept) return kept;
    const post = toPublic(row);
    if (stillNow(read)) postsById.set(row.id, dated(post, read));
    return post;
  }

  /** These listed posts by id, kept or read (one query for those not kept); a post no longer listed is absent. */
  async function listedPosts(ids: readonly string[], made: { at: number }): Promise<Map<string, PublicPost>> {
    const found = new Map<string, PublicPost>();
    const missing: string[] = [];
    for (const id of ids) {
      const kept = keptPost(id, made);
      if (kept) found.set(id, kept);
      else missing.push(id);
    }
    if (missing.length > 0) {
      const read = readNow();
      for (const row of await posts.listedByIds(missing)) found.set(row.id, listed(row, read, made));
    }
    return found;
  }

  /**
   * A public list from the database: published posts, newest published_at first. `made.at` is
   * lowered to the oldest reading of a kept post the page holds.
   */
  async function listFromDatabase(
    query: ListQuery & { followedBy?: string },
    made: { at: number } = { at: Number.POSITIVE_INFINITY },
  ): Promise<ListPage> {
    const limit = query.limit ?? 20;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const filter: ListPostsFilter = {
      authorUsername: query.author,
      tag: query.tag,
      favoritedBy: query.favorited_by,
      followedBy: query.followedBy,
      after,
      limit,
    };
    if (query.q !== undefined) {
      const read = readNow();
      const { rows, continueAfter } = await search(query.q, filter);
      const found = rows.slice(0, limit).map((row) => listed(row, read, made));
      const kept = withinTextBudget(found, limit);
      const page = toPageBy(rows.slice(0, kept + 1), kept, (row) => row.published_at ?? row.created_at);
      // A search that ran out of time before filling the page goes on after the last post it examined.
      const next_cursor =
        page.next_cursor ??
        (continueAfter ? encodeCursor({ createdAt: continueAfter.createdAt, id: continueAfter.id }) : null);
      return { data: found.slice(0, kept), next_cursor };
    }
    // The page's keys (limit + 1, from the index), then its posts; one unlisted in between is left out.
    const keys = await posts.listKeys(filter);
    const head = keys.slice(0, limit);
    const found = await listedPosts(
      head.map((key) => key.id),
      made,
    );
    const present = head.filter((key) => found.has(key.id));
    const data = present.map((key) => found.get(key.id)!);
    const kept = withinTextBudget(data, limit);
    // The next page starts after the last post shown when the text budget ended this one, else after
    // the last key read (whether or not its post was still there).
    const last = kept < data.length ? present[kept - 1] : keys.length > limit ? head[limit - 1] : undefined;
    return {
      data: data.slice(0, kept),
      next_cursor: last ? encodeCursor({ createdAt: last.published_at, id: last.id }) : null,
    };
  }

  /** The public list (anyone's view), through the cache above. */
  async function listPublic(query: ListQuery): Promise<ListPage> {
    // The schema refuses NUL in every parameter, so the fields cannot run into each other.
    const key = [
      query.author?.toLowerCase(),
      query.tag,
      query.favorited_by?.toLowerCase(),
      query.q,
      query.limit ?? 20,
      query.cursor,
    ]
      .map((part) => part ?? '')
      .join('\u0000');
    const kept = keptValue(lists.get(key));
    if (kept) return kept;
    // Kept only if nothing was written meanwhile (a write during the read may not be in it), and
    // dated by the oldest reading it holds (a kept post's, when older than this read).
    const read = readNow();
    const made = { ...read };
    const page = await listFromDatabase(query, made);
    if (askedAgain(key) && stillNow(read)) lists.set(key, dated(page, made));
    return page;
  }

  /**
   * The fields of a write, checked: title, content's render, excerpt, image, tags, slug — every
   * bad field named at once (one 422 entry each), with what `also` checks (the schedule).
   */
  function prepare(input: PostInput, also: () => void = () => {}) {
    const problems: Array<{ path: string; message: string }> = [];
    const checked = <T>(check: () => T): T | undefined => {
      try {
        return check();
      } catch (error) {
        if (!(error instanceof UnprocessableError)) throw error;
        problems.push(...error.errors);
        return undefined;
      }
    };
    const fields = {
      title: input.title === undefined ? undefined : checked(() => cleanTitle(input.title!)),
      render: input.content === undefined ? undefined : renderPost(input.content),
      excerpt: input.excerpt === undefined ? undefined : checked(() => cleanExcerpt(input.excerpt!)),
      featureImage:
        input.feature_image === undefined ? undefined : checked(() => cleanImage(input.feature_image!)),
      tags: input.tags === undefined ? undefined : checked(() => parseTags(input.tags!)),
      slug: input.slug === undefined ? undefined : checked(() => cleanSlug(input.slug!)),
    };
    checked(also);
    if (problems.length > 0) throw new UnprocessableError(problems);
    return fields;
  }

  const slugTaken = (error: unknown) =>
    error instanceof SlugTakenError
      ? new ConflictError('another post has (or had) this slug', 'slug_taken')
      : error;

  async function create(principal: Principal, input: PostInput & { title: string; content: string }) {
    const now = clock.now();
    const id = uuidv7();
    let when: ReturnType<typeof schedule> = { status: 'published', published_at: now };
    const fields = prepare(input, () => {
      when = schedule(undefined, input, now);
    });
    const render = fields.render!;
    const excerpt = fields.excerpt ?? '';
    try {
      await posts.insert(
        {
          id,
          author_id: principal.userId,
          title: fields.title!,
          content: input.content,
          html: render.html,
          excerpt,
          summary: excerpt || render.excerpt,
          reading_minutes: render.readingMinutes,
          rendered_with: RENDERER_VERSION,
          feature_image: fields.featureImage ?? null,
          status: when.status,
          published_at: when.published_at,
          created_at: now,
          updated_at: now,
        },
        fields.tags ?? [],
        { given: fields.slug, base: slugFromTitle(fields.title!) },
      );
    } catch (error) {
      throw slugTaken(error);
    }
    written(undefined);
    // A new post is nobody's favourite yet.
    const post = toPublic(await visible(id, viewerOf(principal)), false);
    return { post, etag: etagOf(post) };
  }

  /** PUT (every field; the optional ones left out return to their defaults) or PATCH (only those sent). */
  async function update(
    principal: Principal,
    id: string,
    input: PostInput,
    options: { replace: boolean; ifMatch?: string | undefined },
  ) {
    const viewer = viewerOf(principal)!;
    if (!isUuid(id)) throw notFound();
    const now = clock.now();
    const fields = prepare(input);
    // The caller's own favourite is part of the answer the ETag names; only they change it.
    const favorited =
      options.ifMatch !== undefined && (await posts.favoritedAmong(viewer.userId, [id])).has(id);
    let tags: readonly TagName[] | undefined = fields.tags;
    if (options.replace && tags === undefined) tags = [];
    const changed = await posts
      .update(
        id,
        (current) => {
          authorise(current, viewer);
          if (
            options.ifMatch !== undefined &&
            !ifMatchHolds(options.ifMatch, etagOf(toPublic(current, favorited)))
          )
            throw new PreconditionFailedError();
        },
        (current): PostUpdate => {
          const when = schedule(
            current,
            options.replace ? { ...input, status: input.status ?? 'published' } : input,
            now,
          );
          const excerpt = fields.excerpt ?? (options.replace ? '' : current.excerpt);
          const render =
            fields.render ??
            (current.rendered_with >= RENDERER_VERSION ? undefined : renderPost(current.content));
          return {
            ...(fields.title !== undefined && { title: fields.title }),
            ...(input.content !== undefined && { content: input.content }),
            ...(render && {
              html: render.html,
              reading_minutes: render.readingMinutes,
              rendered_with: RENDERER_VERSION,
            }),
            excerpt,
            summary:
              excerpt ||
              (render?.excerpt ??
                (current.excerpt === '' ? current.summary : renderPost(current.content).excerpt)),
            ...(fields.featureImage !== undefined
              ? { feature_image: fields.featureImage }
              : options.replace && { feature_image: null }),
            status: when.status,
            published_at: when.published_at,
            updated_at: now,
          };
        },
        { slug: fields.slug, tags, now },
      )
      .catch((error: unknown) => {
        throw slugTaken(error);
      });
    if (!changed) throw notFound();
    written(undefined);
    return answer(await visible(id, viewer), viewer);
  }

  return {
    /** One post by id, for anyone who may see it (visibility.ts); with its ETag. */
    get: async (id: string, principal?: Principal) => {
      const viewer = viewerOf(principal);
      return answer(await visible(id, viewer), viewer);
    },

    /**
     * One post by a slug it has or had: `moved` when that slug is an old one (the route answers 301
     * to the current one). A post the viewer may not see is as missing as none.
     */
    getBySlug: async (slug: string, principal?: Principal) => {
      const viewer = viewerOf(principal);
      const row = await posts.findBySlug(slug);
      if (!row || !canSee(row, viewer)) throw notFound();
      if (row.slug !== slug) return { moved: row.slug } as const;
      return answer(row, viewer);
    },

    /** A published post by slug, for the reader site (anyone's view); an old slug names the current one. */
    findPublished: async (slug: string): Promise<{ post: PublicPost } | { moved: string } | undefined> => {
      const row = await posts.findBySlug(slug);
      if (!row || !canSee(row, undefined)) return undefined;
      return row.slug === slug ? { post: toPublic(row) } : { moved: row.slug };
    },

    /** Whether a post exists that `principal` may see (comments/ asks before listing or adding). */
    visibleTo: async (id: string, principal?: Principal) => visible(id, viewerOf(principal)),

    listPublic,

    /** GET /posts: the public list, with `favorited` for a caller who sent a token. */
    list: async (query: ListQuery, principal?: Principal) =>
      withFavorited(await listPublic(query), viewerOf(principal)),

    /**
     * A public list by offset, with the total it is part of (the RealWorld API's
     * articles and articlesCount); `followedBy` for a feed.
     */
    listAt: async (
      query: Omit<ListQuery, 'cursor' | 'q'> & { offset: number; followedBy?: string },
      principal?: Principal,
    ) => {
      const filter = {
        authorUsername: query.author,
        tag: query.tag,
        favoritedBy: query.favorited_by,
        followedBy: query.followedBy,
        limit: query.limit ?? 20,
      };
      // Anyone's view of a public list is kept as the cursor pages are (a feed is the caller's own).
      const key =
        query.followedBy === undefined
          ? [
              'offset',
              query.author?.toLowerCase(),
              query.tag,
              query.favorited_by?.toLowerCase(),
              filter.limit,
              query.offset,
            ]
              .map((part) => part ?? '')
              .join('\u0000')
          : undefined;
      let kept = key === undefined ? undefined : keptValue(offsetLists.get(key));
      if (!kept) {
        // As a cursor page not kept: the keys (skipped on the listing index), then the posts.
        const read = readNow();
        const made = { ...read };
        const [keys, count] = await Promise.all([
          posts.listKeysAt(filter, query.offset),
          posts.countListed(filter),
        ]);
        const found = await listedPosts(
          keys.map((row) => row.id),
          made,
        );
        kept = { data: keys.flatMap((row) => found.get(row.id) ?? []), next_cursor: null, count };
        if (key !== undefined && askedAgain(key) && stillNow(read)) offsetLists.set(key, dated(kept, made));
      }
      const page = await withFavorited(kept, viewerOf(principal));
      return { data: page.data, count: kept.count };
    },

    /**
     * The authors of these posts (username, bio, image; kept for the list cache's second) with
     * `following` for the caller, by author id.
     */
    profilesOf: async (authorIds: readonly string[], principal?: Principal) => {
      const found = new Map<string, { id: string; username: string; bio: string; image: string | null }>();
      for (const id of new Set(authorIds)) {
        const profile = keptValue(profiles.get(id));
        if (profile) found.set(id, profile);
      }
      const missing = [...new Set(authorIds)].filter((id) => !found.has(id));
      if (missing.length > 0) {
        const read = readNow();
        const authors = await posts.authorsByIds(missing);
        for (const author of authors) {
          found.set(author.id, author);
          if (stillNow(read)) profiles.set(author.id, dated(author, read));
        }
      }
      const followed = principal
        ? await posts.followingAmong(principal.userId, authorIds)
        : new Set<string>();
      return new Map(
        authorIds.flatMap((id) => {
          const author = found.get(id);
          return author ? [[id, { ...author, following: followed.has(id) }] as const] : [];
        }),
      );
    },

    /** Which of `authorIds` the user follows (a list's `following`, one query). */
    followingAmong: (userId: string, authorIds: readonly string[]) => posts.followingAmong(userId, authorIds),

    /** The caller's own posts, any status (or one), newest written first. */
    listOwn: async (
      principal: Principal,
      query: { status?: PostStatus; limit?: number; cursor?: string },
    ) => {
      const limit = query.limit ?? 20;
      const rows = await posts.listOwn({
        authorId: principal.userId,
        status: query.status,
        after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
        limit,
      });
      const page = toPageBy(rows, limit, (row) => row.created_at);
      return withFavorited(
        { data: page.data.map((row) => toPublic(row)), next_cursor: page.next_cursor },
        viewerOf(principal),
      );
    },

    /** The caller's feed: published posts of the authors they follow, newest first. */
    feed: async (principal: Principal, query: { limit?: number; cursor?: string }) =>
      withFavorited(await listFromDatabase({ ...query, followedBy: principal.userId }), viewerOf(principal)),

    create,
    update,

    remove: async (principal: Principal, id: string) => {
      const viewer = viewerOf(principal)!;
      if (!isUuid(id) || !(await posts.remove(id, (current) => authorise(current, viewer), clock.now())))
        throw notFound();
      written(undefined);
    },

    /** PUT/DELETE /posts/{id}/favorite: idempotent; a post the caller may not see is 404. */
    favorite: async (principal: Principal, id: string, on: boolean) => {
      const viewer = viewerOf(principal)!;
      if (!isUuid(id)) throw notFound();
      const found = await posts.setFavorite(
        viewer.userId,
        id,
        on,
        (post) => {
          if (!canSee(post, undefined)) throw notFound();
        },
        clock.now(),
      );
      if (!found) throw notFound();
      written(undefined);
      return answer(await visible(id, viewer), viewer);
    },

    /** GET /tags: tags of published posts, most used first. */
    tags: async () => ({
      data: (await posts.listTags(TAGS_LISTED)).map((tag) => ({
        name: tag.name,
        slug: tag.slug,
        count: Number(tag.posts_count),
      })),
    }),

    findTag: async (slug: string) => {
      const tag = await posts.findTag(slug);
      return tag && { name: tag.name, slug: tag.slug, count: Number(tag.posts_count) };
    },

    /** An author's profile with their counts, and `following` for a caller. */
    author: async (username: string, principal?: Principal) => {
      const row = await posts.findAuthor(username);
      if (!row) throw new NotFoundError('author not found', 'author_not_found');
      return authorAnswer(row, principal ? await posts.isFollowing(principal.userId, row.id) : false);
    },

    /** PUT/DELETE /authors/{username}/follow: idempotent; following oneself is 422. */
    follow: async (principal: Principal, username: string, on: boolean) => {
      const row = await posts.findAuthor(username);
      if (!row) throw new NotFoundError('author not found', 'author_not_found');
      if (row.id === principal.userId)
        throw new UnprocessableError([{ path: '/username', message: 'you cannot follow yourself' }]);
      await posts.setFollow(principal.userId, row.id, on, clock.now());
      written(undefined);
      const now = await posts.findAuthor(username);
      return authorAnswer(now ?? row, on);
    },

    /** The scheduler's job: publishes the scheduled posts whose time has come. */
    publishDue: async (now: Date) => {
      const published = await posts.publishDue(now, PUBLISH_BATCH);
      if (published > 0) written(undefined);
      return { published };
    },

    /** The scheduler's job: stores the HTML of posts an older renderer made, made again. */
    renderStale: async () => {
      const stale = await posts.staleRenders(RENDERER_VERSION, RENDER_BATCH);
      for (const row of stale) {
        const made = renderPost(row.content);
        await posts.storeRender(row.id, {
          html: made.html,
          summary: row.excerpt || made.excerpt,
          reading_minutes: made.readingMinutes,
          rendered_with: RENDERER_VERSION,
        });
      }
      return { rendered: stale.length };
    },

    /** For the sitemap: the months from the first to the last published post (UTC, 'YYYY-MM'). */
    publishedMonths: async (): Promise<string[]> => {
      const range = await posts.listedRange();
      if (!range?.first || !range.last) return [];
      const first = new Date(range.first as Date | string);
      const last = new Date(range.last as Date | string);
      const months: string[] = [];
      for (let y = first.getUTCFullYear(), m = first.getUTCMonth(); ; ) {
        months.push(`${y}-${String(m + 1).padStart(2, '0')}`);
        if (y === last.getUTCFullYear() && m === last.getUTCMonth()) return months;
        m += 1;
        if (m === 12) [y, m] = [y + 1, 0];
      }
    },

    /** For the sitemap: the published posts of a month ('YYYY-MM'), at most `limit`. */
    publishedIn: async (month: string, limit: number) => {
      const [year, index] = month.split('-').map(Number) as [number, number];
      const rows = await posts.listedBetween(
        new Date(Date.UTC(year, index - 1)),
        new Date(Date.UTC(year, index)),
        limit,
      );
      return rows.map((row) => ({
        slug: row.slug,
        updated: row.updated_at > row.published_at! ? row.updated_at : row.published_at!,
      }));
    },

    /** For the sitemap: usernames with published posts, and tags of published posts. */
    listedAuthors: async (limit: number) => (await posts.listedAuthors(limit)).map((row) => row.username),
    listedTags: async (limit: number) => (await posts.listTags(limit)).map((tag) => tag.slug),

    /** Something that lists or pages show changed outside this service (a comment, an author gone). */
    changed: () => written(undefined),

    /**
     * For what callers make from public reads and keep (the reader site's pages), as this service
     * keeps its lists: readNow() before the reads, keep what they made with it only if `stillNow`
     * says no write came meanwhile, and serve it while `fresh` says so.
     */
    readNow,
    stillNow,
    fresh: (kept: { version: number; at: number }) => fresh(kept),

    /** Starts reading the content feed, when there is one (the app's onReady). */
    start: watch.start,
    /** Stops reading it (the app's onClose). */
    stop: watch.stop,
    /** Resolves once a look at the content feed that began after this call has ended. */
    caughtUp: watch.caughtUp,
    /** Milliseconds since the last complete look began; undefined before the first (or without a feed). */
    feedAgeMs: watch.ageMs,

    /** For comments/ and accounts/: the repository's parts they use inside their own transactions. */
    forgetUser: posts.forgetUser,
    nextCommentNumber: posts.nextCommentNumber,
    moveCommentsCount: posts.moveCommentsCount,
  };
}

function authorAnswer(row: AuthorRow, following: boolean) {
  return {
    username: row.username,
    full_name: row.full_name,
    bio: row.bio,
    image: row.image,
    posts_count: row.posts_count,
    followers_count: row.followers_count,
    following,
  };
}
