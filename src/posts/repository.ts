import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { Cursor } from '../db/cursor.ts';
import { isPostgres } from '../db/dialect.ts';
import { olderThan } from '../db/keyset.ts';
import { type Kysely, sql } from '../db/kysely.ts';
import type { Database, NewPost, PostRow, PostStatus, PostUpdate } from '../db/schema.ts';
import { beginScan, endScan, isScanBudgetSpent } from '../db/sqlite-functions.ts';
import { numberedSlug } from './slugs.ts';
import type { TagName } from './tags.ts';
import { LISTED } from './visibility.ts';

export type PostsRepository = ReturnType<typeof createPostsRepository>;
export type PostWithAuthor = PostRow & { author_username: string };

/** A public list: published posts only (visibility.ts), newest published_at first. */
export interface ListPostsFilter {
  authorId?: string | undefined;
  authorUsername?: string | undefined;
  /** A tag's slug. */
  tag?: string | undefined;
  /** A username: the posts they favourited. */
  favoritedBy?: string | undefined;
  /** A user id: the posts of the authors they follow. */
  followedBy?: string | undefined;
  after?: Cursor | undefined;
  limit: number;
}

/** The caller's own posts, any status (or one), newest written first. */
export interface OwnPostsFilter {
  authorId: string;
  status?: PostStatus | undefined;
  after?: Cursor | undefined;
  limit: number;
}

/** An author as the blog shows them, with their counts. */
export interface AuthorRow {
  id: string;
  username: string;
  full_name: string;
  bio: string;
  image: string | null;
  posts_count: number;
  followers_count: number;
}

/** The tags' names as posts.tags holds them: JSON, in the order of their slugs. */
function tagNames(tags: readonly TagName[]): string {
  return JSON.stringify(
    [...tags].sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0)).map((t) => t.name),
  );
}

/** A slug that another post holds (now or before): the service answers 409. */
export class SlugTakenError extends Error {
  constructor(slug: string) {
    super(`the slug ${slug} is taken`);
    this.name = 'SlugTakenError';
  }
}

/**
 * A page of rows, and — when a search ran out of its time budget before filling the page — where
 * the next page goes on from (the last post it examined), so that a client paging on sees every match.
 */
interface Rows {
  rows: PostWithAuthor[];
  continueAfter?: Cursor;
}

/**
 * Time one search may spend (API.md: no request holds the event loop or a connection for more than
 * 100 ms, whatever the data). SQLite checks it per examined row, PostgreSQL as a statement timeout.
 */
const SEARCH_BUDGET_MS = 30;
/** SQLite searches waiting for their turn; more are refused (503) rather than queued without end. */
const MAX_WAITING_SEARCHES = 64;
const POSTGRES_SEARCH_TIMEOUT_MS = 100;
/** Distinct trigrams of the text that the index lookup requires; the exact match checks the rest. */
const MAX_TRIGRAMS = 8;

/** `%`, `_` and `\` in user text match themselves. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** An FTS5 query that every row containing `needle` matches: up to 8 of its trigrams, spread out. */
function trigramQuery(needle: string): string {
  const chars = [...needle];
  const all = [...new Set(chars.slice(0, -2).map((_, i) => chars.slice(i, i + 3).join('')))];
  const step = Math.max(1, all.length / MAX_TRIGRAMS);
  const chosen = [
    ...new Set(
      Array.from({ length: Math.min(all.length, MAX_TRIGRAMS) }, (_, i) => all[Math.floor(i * step)]!),
    ),
  ];
  return chosen.map((trigram) => `"${trigram.replaceAll('"', '""')}"`).join(' ');
}

/**
 * SQLite searches take turns, one per turn of the event loop: node:sqlite runs on the loop, and
 * searches started back to back would otherwise run one after another without letting any other
 * request in between (each continues in a microtask). With this, whatever else is waiting is served
 * after every search, so it waits at most one search budget.
 */
function createTurns(maxWaiting: number) {
  let tail: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  return <T>(work: () => Promise<T>): Promise<T> => {
    if (waiting >= maxWaiting) {
      return Promise.reject(new SearchUnavailableError('too many searches are waiting; try again shortly'));
    }
    waiting += 1;
    const turn = tail.then(() => new Promise((resolve) => setImmediate(resolve))).then(work);
    const settled = turn.finally(() => {
      waiting -= 1;
    });
    tail = settled.catch(() => undefined);
    return settled;
  };
}

export function createPostsRepository(db: Kysely<Database>) {
  const postgres = isPostgres(db);
  const searchTurn = createTurns(MAX_WAITING_SEARCHES);
  const withAuthor = (executor: Kysely<Database> = db) =>
    executor
      .selectFrom('posts')
      .innerJoin('users', 'users.id', 'posts.author_id')
      .selectAll('posts')
      .select('users.username as author_username');
  const userIdByName = (username: string) =>
    db
      .selectFrom('users')
      .select('users.id')
      .where((eb) => eb(eb.fn('lower', ['users.username']), '=', username.toLowerCase()));

  /**
   * Published posts, newest published_at first, keyset-paged on (published_at, id): no skips or
   * repeats while posts are added. A tag's list walks post_tags' own copy of published_at, so that
   * it is one index range however many posts there are. Selects nothing: each caller chooses.
   */
  function newestFirst(executor: Kysely<Database>, filter: ListPostsFilter) {
    let query = executor.selectFrom('posts').where('posts.status', '=', LISTED);
    if (filter.authorId !== undefined) query = query.where('posts.author_id', '=', filter.authorId);
    if (filter.authorUsername !== undefined)
      query = query.where('posts.author_id', '=', userIdByName(filter.authorUsername));
    if (filter.favoritedBy !== undefined) {
      const favoritedBy = filter.favoritedBy;
      query = query.where('posts.id', 'in', (eb) =>
        eb
          .selectFrom('favorites')
          .select('favorites.post_id')
          .where('favorites.user_id', '=', userIdByName(favoritedBy)),
      );
    }
    if (filter.followedBy !== undefined) {
      const followedBy = filter.followedBy;
      query = query.where('posts.author_id', 'in', (eb) =>
        eb.selectFrom('follows').select('follows.author_id').where('follows.follower_id', '=', followedBy),
      );
    }
    if (filter.tag !== undefined) {
      const tag = filter.tag;
      // post_tags joins only to be walked: what the caller selects is still the posts' (and users').
      const tagged = query
        .innerJoin('post_tags', 'post_tags.post_id', 'posts.id')
        .where('post_tags.tag_id', '=', (eb) =>
          eb.selectFrom('tags').select('tags.id').where('tags.slug', '=', tag),
        )
        .where('post_tags.listed_at', 'is not', null) as unknown as typeof query;
      return (
        filter.after
          ? tagged.where(olderThan(filter.after, 'post_tags.listed_at', 'post_tags.post_id'))
          : tagged
      )
        .orderBy(sql.ref('post_tags.listed_at'), 'desc')
        .orderBy(sql.ref('post_tags.post_id'), 'desc')
        .limit(filter.limit + 1);
    }
    if (filter.after) query = query.where(olderThan(filter.after, 'posts.published_at', 'posts.id'));
    return query
      .orderBy('posts.published_at', 'desc')
      .orderBy('posts.id', 'desc')
      .limit(filter.limit + 1);
  }

  /** newestFirst's rows, whole, with their author's username. */
  const newestFirstWithAuthor = (executor: Kysely<Database>, filter: ListPostsFilter) =>
    newestFirst(executor, filter)
      .innerJoin('users', 'users.id', 'posts.author_id')
      .selectAll('posts')
      .select('users.username as author_username');

  /**
   * PostgreSQL: ILIKE on title or content, served by the pg_trgm GIN indexes, newest first, under a
   * statement timeout.
   */
  async function searchPostgres(text: string, filter: ListPostsFilter): Promise<Rows> {
    const pattern = likePattern(text);
    try {
      const rows = await db.transaction().execute(async (trx) => {
        await sql`set local statement_timeout = ${sql.lit(POSTGRES_SEARCH_TIMEOUT_MS)}`.execute(trx);
        return newestFirstWithAuthor(trx, filter)
          .where(
            sql<boolean>`(posts.title ilike ${pattern} escape '\\' or posts.content ilike ${pattern} escape '\\')`,
          )
          .execute();
      });
      return { rows };
    } catch (error) {
      if ((error as { code?: string }).code === '57014') throw searchTooLong(error);
      throw error;
    }
  }

  /**
   * SQLite: the FTS5 trigram index yields candidate rows newest written first (by rowid: posts are
   * inserted as they are written), each checked exactly, ignoring case, by inkgate_scan_match,
   * which stops the statement once SEARCH_BUDGET_MS has passed. Then the matches found so far are
   * the page, and the next cursor goes on from the last post examined. Only published posts match.
   */
  async function searchSqlite(text: string, filter: ListPostsFilter): Promise<Rows> {
    const needle = text.toLowerCase();
    const token = randomUUID();
    const progress = beginScan(token);
    const deadline = Date.now() + SEARCH_BUDGET_MS;
    // Rows older than the cursor: below the rowid of the cursor's post, or — if that post is gone —
    // below the first post newer than it.
    const before = filter.after
      ? sql`and posts_fts.rowid < coalesce(
          (select rowid from posts where id = ${filter.after.id}),
          (select rowid from posts where (created_at, id) > (${filter.after.createdAt}, ${filter.after.id})
             order by created_at, id limit 1),
          (select max(rowid) + 1 from posts))`
      : sql``;
    const byAuthor =
      filter.authorId !== undefined
        ? sql`and posts.author_id = ${filter.authorId}`
        : filter.authorUsername !== undefined
          ? sql`and lower(users.username) = ${filter.authorUsername.toLowerCase()}`
          : sql``;
    try {
      const { rows } = await sql<PostWithAuthor>`
        select posts.*, users.username as author_username
        from posts_fts
        join posts on posts.rowid = posts_fts.rowid
        join users on users.id = posts.author_id
        where posts_fts match ${trigramQuery(needle)} ${before} ${byAuthor}
          and posts.status = ${LISTED}
          and inkgate_scan_match(${token}, ${deadline}, posts.created_at, posts.id, posts.title, posts.content, ${needle})
        order by posts_fts.rowid desc
        limit ${filter.limit + 1}`.execute(db);
      return { rows };
    } catch (error) {
      if (!isScanBudgetSpent(error)) throw error;
      const last = progress.last;
      if (!last) throw searchTooLong(error);
      const found =
        progress.found.length === 0
          ? []
          : await withAuthor().where('posts.id', 'in', progress.found).execute();
      const order = new Map(progress.found.map((id, index) => [id, index]));
      found.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
      return { rows: found, continueAfter: { createdAt: new Date(last.createdAt), id: last.id } };
    } finally {
      endScan(token);
    }
  }

  /** The row, locked for the rest of the transaction on PostgreSQL (SQLite runs one at a time). */
  const lockedPost = (trx: Kysely<Database>, id: string) => {
    const query = withAuthor(trx).where('posts.id', '=', id);
    return (postgres ? query.forUpdate('posts') : query).executeTakeFirst();
  };

  /**
   * Claims `slug` for the post in post_slugs, the one place slugs are unique: true when it is now
   * (or already was) the post's, false when another post has it, now or from before.
   */
  async function claimSlug(trx: Kysely<Database>, postId: string, slug: string, now: Date): Promise<boolean> {
    const inserted = await trx
      .insertInto('post_slugs')
      .values({ slug, post_id: postId, created_at: now })
      .onConflict((oc) => oc.column('slug').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return true;
    const holder = await trx
      .selectFrom('post_slugs')
      .select('post_id')
      .where('slug', '=', slug)
      .executeTakeFirst();
    return holder?.post_id === postId;
  }

  /**
   * A free number for `base` (1 is `base` itself, n ≥ 2 is `base-n`): the end of the run of taken
   * ones, found in a few point lookups of post_slugs' key however many posts share the title —
   * doubling until one is free, then narrowing between the last taken and the first free, 64
   * candidates a query. (Gaps that deletions left may stay unused; every number is still unique.)
   */
  async function freeNumber(trx: Kysely<Database>, base: string): Promise<number> {
    const takenOf = async (numbers: readonly number[]) => {
      const rows = await trx
        .selectFrom('post_slugs')
        .select('slug')
        .where(
          'slug',
          'in',
          numbers.map((n) => numberedSlug(base, n)),
        )
        .execute();
      const slugs = new Set(rows.map((row) => row.slug));
      return (n: number) => slugs.has(numberedSlug(base, n));
    };
    const powers = Array.from({ length: 31 }, (_, i) => 2 ** i);
    const doubling = await takenOf(powers);
    if (!doubling(1)) return 1;
    let hi = powers.find((n) => !doubling(n)) ?? 2 ** 31;
    let lo = hi / 2;
    while (hi - lo > 1) {
      const step = Math.ceil((hi - lo) / 64);
      const probes: number[] = [];
      for (let n = lo + step; n < hi; n += step) probes.push(n);
      const taken = await takenOf(probes);
      const free = probes.find((n) => !taken(n));
      if (free === undefined) lo = probes[probes.length - 1] ?? lo;
      else {
        hi = free;
        lo = Math.max(lo, ...probes.filter((n) => n < free));
      }
    }
    return hi;
  }

  /**
   * A made slug claimed for the post: `base`, else `base-2`, `base-3`, … (freeNumber). A concurrent
   * writer that takes the chosen one first (the claim finds it taken) sends this round again, so two
   * posts of one title get two slugs.
   */
  async function claimMadeSlug(
    trx: Kysely<Database>,
    postId: string,
    base: string,
    now: Date,
  ): Promise<string> {
    for (;;) {
      const slug = numberedSlug(base, await freeNumber(trx, base));
      if (await claimSlug(trx, postId, slug, now)) return slug;
    }
  }

  /**
   * The post's tags and their listing, as one change: rows for `tags` (created on first use; the
   * first spelling is the name), listed at `listedAt` (its published_at while it is published, else
   * null), and each tag's count of published posts moved by exactly what changed.
   */
  async function syncTags(
    trx: Kysely<Database>,
    postId: string,
    tags: readonly TagName[],
    listedAt: Date | null,
    now: Date,
  ) {
    if (tags.length > 0) {
      await trx
        .insertInto('tags')
        .values(tags.map((tag) => ({ id: uuidv7(), slug: tag.slug, name: tag.name, created_at: now })))
        .onConflict((oc) => oc.column('slug').doNothing())
        .execute();
    }
    const wanted =
      tags.length === 0
        ? []
        : await trx
            .selectFrom('tags')
            .select('id')
            .where(
              'slug',
              'in',
              tags.map((tag) => tag.slug),
            )
            .execute();
    const before = await trx
      .selectFrom('post_tags')
      .select(['tag_id', 'listed_at'])
      .where('post_id', '=', postId)
      .execute();
    const was = new Map(before.map((row) => [row.tag_id, row.listed_at !== null]));
    const wantedIds = new Set(wanted.map((row) => row.id));
    const listed = listedAt !== null;
    const up: string[] = [];
    const down: string[] = [];
    for (const [tagId, wasListed] of was) {
      if (!wantedIds.has(tagId)) {
        if (wasListed) down.push(tagId);
      } else if (wasListed !== listed) (listed ? up : down).push(tagId);
    }
    for (const tagId of wantedIds) if (!was.has(tagId) && listed) up.push(tagId);

    const gone = [...was.keys()].filter((tagId) => !wantedIds.has(tagId));
    if (gone.length > 0)
      await trx.deleteFrom('post_tags').where('post_id', '=', postId).where('tag_id', 'in', gone).execute();
    const kept = [...wantedIds].filter((tagId) => was.has(tagId));
    if (kept.length > 0)
      await trx
        .updateTable('post_tags')
        .set({ listed_at: listedAt })
        .where('post_id', '=', postId)
        .where('tag_id', 'in', kept)
        .execute();
    const added = [...wantedIds].filter((tagId) => !was.has(tagId));
    if (added.length > 0)
      await trx
        .insertInto('post_tags')
        .values(added.map((tagId) => ({ post_id: postId, tag_id: tagId, listed_at: listedAt })))
        .execute();
    if (up.length > 0)
      await trx
        .updateTable('tags')
        .set((eb) => ({ posts_count: eb('posts_count', '+', 1) }))
        .where('id', 'in', up)
        .execute();
    if (down.length > 0)
      await trx
        .updateTable('tags')
        .set((eb) => ({ posts_count: eb('posts_count', '-', 1) }))
        .where('id', 'in', down)
        .execute();
  }

  /** The post's tags as TagNames (the stored spelling), for a change that keeps them. */
  const tagsOf = (trx: Kysely<Database>, postId: string): Promise<TagName[]> =>
    trx
      .selectFrom('post_tags')
      .innerJoin('tags', 'tags.id', 'post_tags.tag_id')
      .select(['tags.slug', 'tags.name'])
      .where('post_tags.post_id', '=', postId)
      .execute();

  const listedAtOf = (post: { status: PostStatus; published_at: Date | null }) =>
    post.status === LISTED ? post.published_at : null;

  return {
    findById: (id: string) => withAuthor().where('posts.id', '=', id).executeTakeFirst(),

    /** The post that has (or had) `slug`: its current slug may differ (the route answers 301). */
    findBySlug: (slug: string) =>
      withAuthor()
        .innerJoin('post_slugs', 'post_slugs.post_id', 'posts.id')
        .where('post_slugs.slug', '=', slug)
        .executeTakeFirst(),

    /** Published posts, newest first (limit + 1 rows). */
    list: (filter: ListPostsFilter): Promise<PostWithAuthor[]> => newestFirstWithAuthor(db, filter).execute(),

    /**
     * The same list's keys only (limit + 1 of them): which posts, in order, and where a page of them
     * ends — from the listing indexes alone, for a caller that has the posts themselves already.
     */
    listKeys: (filter: ListPostsFilter): Promise<Array<{ id: string; published_at: Date }>> => {
      const { tag, after, limit, ...others } = filter;
      // A tag's alone: post_tags' index only, its listed_at being the post's published_at while
      // listed (kept so in each write's transaction); the posts are checked again when read.
      if (tag !== undefined && Object.values(others).every((value) => value === undefined)) {
        const query = db
          .selectFrom('post_tags')
          .select(['post_tags.post_id as id', 'post_tags.listed_at as published_at'])
          .where('post_tags.tag_id', '=', (eb) =>
            eb.selectFrom('tags').select('tags.id').where('tags.slug', '=', tag),
          )
          .where('post_tags.listed_at', 'is not', null);
        return (after ? query.where(olderThan(after, 'post_tags.listed_at', 'post_tags.post_id')) : query)
          .orderBy('post_tags.listed_at', 'desc')
          .orderBy('post_tags.post_id', 'desc')
          .limit(limit + 1)
          .execute() as Promise<Array<{ id: string; published_at: Date }>>;
      }
      return newestFirst(db, filter).select(['posts.id', 'posts.published_at']).execute() as Promise<
        Array<{ id: string; published_at: Date }>
      >;
    },

    /** These posts as lists show them, those still listed (in no order). */
    listedByIds: (ids: readonly string[]): Promise<PostWithAuthor[]> =>
      ids.length === 0
        ? Promise.resolve([])
        : withAuthor().where('posts.id', 'in', ids).where('posts.status', '=', LISTED).execute(),

    /**
     * The same list's keys paged by offset (at most 10,000: the RealWorld API's cap), as its clients
     * page; `limit` keys exactly (no look-ahead), the skipped ones stepped over on the index.
     */
    listKeysAt: (filter: Omit<ListPostsFilter, 'after'>, offset: number): Promise<Array<{ id: string }>> =>
      newestFirst(db, { ...filter, limit: filter.limit - 1 })
        .select('posts.id')
        .offset(offset)
        .execute(),

    /**
     * How many published posts a list holds (its articlesCount): a tag's from its
     * kept count, the others counted on their index range.
     */
    countListed: async (filter: Omit<ListPostsFilter, 'after' | 'limit'>): Promise<number> => {
      if (
        filter.tag !== undefined &&
        filter.authorUsername === undefined &&
        filter.favoritedBy === undefined &&
        filter.followedBy === undefined
      ) {
        const tag = await db
          .selectFrom('tags')
          .select('posts_count')
          .where('slug', '=', filter.tag)
          .executeTakeFirst();
        return Number(tag?.posts_count ?? 0);
      }
      const rows = newestFirst(db, { ...filter, limit: Number.MAX_SAFE_INTEGER - 1 })
        .clearOrderBy()
        .clearLimit()
        .select((eb) => eb.fn.countAll<number>().as('n'));
      const row = await rows.executeTakeFirst();
      return Number(row?.n ?? 0);
    },

    /** The author's own posts of any status (or `status`), newest written first (limit + 1 rows). */
    listOwn: (filter: OwnPostsFilter): Promise<PostWithAuthor[]> => {
      let query = withAuthor().where('posts.author_id', '=', filter.authorId);
      if (filter.status !== undefined) query = query.where('posts.status', '=', filter.status);
      if (filter.after) query = query.where(olderThan(filter.after, 'posts.created_at', 'posts.id'));
      return query
        .orderBy('posts.created_at', 'desc')
        .orderBy('posts.id', 'desc')
        .limit(filter.limit + 1)
        .execute();
    },

    /** Published posts whose title or content holds `text` (3 to 200 characters), ignoring case. */
    search: (text: string, filter: ListPostsFilter): Promise<Rows> =>
      postgres ? searchPostgres(text, filter) : searchTurn(() => searchSqlite(text, filter)),

    /**
     * A new post with its slug (`slug`, refused with SlugTakenError when taken, or made from
     * `slugBase`) and tags, in one transaction. Answers the slug it got.
     */
    insert: (
      post: Omit<NewPost, 'slug' | 'tags'>,
      tags: readonly TagName[],
      slug: { given?: string; base: string },
    ) =>
      db.transaction().execute(async (trx) => {
        const now = post.created_at;
        // The row is written first (post_slugs references it) under its own id as a stand-in slug, which
        // no claimed slug can equal (`~` is not a slug character); the claimed one replaces it below,
        // in this same transaction, so no reader ever sees it.
        await trx
          .insertInto('posts')
          .values({ ...post, slug: `~${post.id}`, tags: tagNames(tags) })
          .execute();
        let chosen: string;
        if (slug.given !== undefined) {
          if (!(await claimSlug(trx, post.id, slug.given, now))) throw new SlugTakenError(slug.given);
          chosen = slug.given;
        } else chosen = await claimMadeSlug(trx, post.id, slug.base, now);
        await trx.updateTable('posts').set({ slug: chosen }).where('id', '=', post.id).execute();
        await syncTags(
          trx,
          post.id,
          tags,
          listedAtOf(post as { status: PostStatus; published_at: Date | null }),
          now,
        );
        return chosen;
      }),

    /**
     * Changes the post in one transaction, after `check` accepted the row as it is now (locked):
     * the fields, a new slug (SlugTakenError when another post has or had it), new tags (or the same
     * ones, relisted with the new status). Answers false when the post is gone.
     */
    update: (
      id: string,
      check: (current: PostWithAuthor) => void,
      changes: (current: PostWithAuthor) => PostUpdate,
      extra: { slug?: string; tags?: readonly TagName[]; now: Date },
    ) =>
      db.transaction().execute(async (trx) => {
        const current = await lockedPost(trx, id);
        if (!current) return false;
        check(current);
        const set: PostUpdate = { ...changes(current) };
        if (extra.slug !== undefined && extra.slug !== current.slug) {
          if (!(await claimSlug(trx, id, extra.slug, extra.now))) throw new SlugTakenError(extra.slug);
          set.slug = extra.slug;
        }
        if (extra.tags !== undefined) set.tags = tagNames(extra.tags);
        await trx.updateTable('posts').set(set).where('id', '=', id).execute();
        const status = set.status ?? current.status;
        const publishedAt = set.published_at !== undefined ? set.published_at : current.published_at;
        await syncTags(
          trx,
          id,
          extra.tags ?? (await tagsOf(trx, id)),
          listedAtOf({ status, published_at: publishedAt }),
          extra.now,
        );
        return true;
      }),

    /** Deletes the post after `check` accepted it; its slugs, tags' counts, comments and favourites go with it. */
    remove: (id: string, check: (current: PostWithAuthor) => void, now: Date) =>
      db.transaction().execute(async (trx) => {
        const current = await lockedPost(trx, id);
        if (!current) return false;
        check(current);
        await syncTags(trx, id, [], null, now);
        await trx.deleteFrom('posts').where('id', '=', id).execute();
        return true;
      }),

    /** Scheduled posts whose time has come, published (at most `limit` a call); answers how many. */
    publishDue: (now: Date, limit: number): Promise<number> =>
      db.transaction().execute(async (trx) => {
        const due = await trx
          .selectFrom('posts')
          .select(['id', 'published_at'])
          .where('status', '=', 'scheduled')
          .where('published_at', '<=', now)
          .orderBy('published_at')
          .limit(limit)
          .execute();
        for (const post of due) {
          const moved = await trx
            .updateTable('posts')
            .set({ status: LISTED })
            .where('id', '=', post.id)
            .where('status', '=', 'scheduled')
            .executeTakeFirst();
          if (Number(moved.numUpdatedRows) === 0) continue;
          await syncTags(trx, post.id, await tagsOf(trx, post.id), post.published_at, now);
        }
        return due.length;
      }),

    /** Posts whose HTML an older renderer made (at most `limit`). */
    staleRenders: (version: number, limit: number) =>
      db
        .selectFrom('posts')
        .select(['id', 'content', 'excerpt'])
        .where('rendered_with', '<', version)
        .limit(limit)
        .execute(),

    storeRender: (
      id: string,
      render: { html: string; summary: string; reading_minutes: number; rendered_with: number },
    ) => db.updateTable('posts').set(render).where('id', '=', id).execute(),

    /** The first and last published_at of the published posts (the sitemap's months). */
    listedRange: () =>
      db
        .selectFrom('posts')
        .select((eb) => [eb.fn.min('published_at').as('first'), eb.fn.max('published_at').as('last')])
        .where('status', '=', LISTED)
        .executeTakeFirst(),

    /** Published posts of [from, to), oldest first, at most `limit`: their slugs and times. */
    listedBetween: (from: Date, to: Date, limit: number) =>
      db
        .selectFrom('posts')
        .select(['slug', 'updated_at', 'published_at'])
        .where('status', '=', LISTED)
        .where('published_at', '>=', from)
        .where('published_at', '<', to)
        .orderBy('published_at')
        .limit(limit)
        .execute(),

    /** Usernames with at least one published post (the sitemap's author pages), at most `limit`. */
    listedAuthors: (limit: number) =>
      db
        .selectFrom('users')
        .select('username')
        .where('disabled', '=', false)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('posts')
              .select('posts.id')
              .whereRef('posts.author_id', '=', 'users.id')
              .where('posts.status', '=', LISTED),
          ),
        )
        .orderBy('username')
        .limit(limit)
        .execute(),

    /** Which of `postIds` the user favourited. */
    favoritedAmong: async (userId: string, postIds: readonly string[]): Promise<Set<string>> => {
      if (postIds.length === 0) return new Set();
      const rows = await db
        .selectFrom('favorites')
        .select('post_id')
        .where('user_id', '=', userId)
        .where('post_id', 'in', postIds)
        .execute();
      return new Set(rows.map((row) => row.post_id));
    },

    /**
     * Favourites (or not) the post: the pair is unique, and the count moves in the same transaction
     * only when the pair was added or removed, so concurrent requests keep it exact. False when the
     * post is gone or `check` refuses it.
     */
    setFavorite: (
      userId: string,
      postId: string,
      on: boolean,
      check: (post: PostWithAuthor) => void,
      now: Date,
    ) =>
      db.transaction().execute(async (trx) => {
        const post = await withAuthor(trx).where('posts.id', '=', postId).executeTakeFirst();
        if (!post) return false;
        check(post);
        const changed = on
          ? Number(
              (
                await trx
                  .insertInto('favorites')
                  .values({ user_id: userId, post_id: postId, created_at: now })
                  .onConflict((oc) => oc.columns(['user_id', 'post_id']).doNothing())
                  .executeTakeFirst()
              ).numInsertedOrUpdatedRows ?? 0,
            )
          : Number(
              (
                await trx
                  .deleteFrom('favorites')
                  .where('user_id', '=', userId)
                  .where('post_id', '=', postId)
                  .executeTakeFirst()
              ).numDeletedRows,
            );
        if (changed > 0)
          await trx
            .updateTable('posts')
            .set((eb) => ({ favorites_count: eb('favorites_count', on ? '+' : '-', 1) }))
            .where('id', '=', postId)
            .execute();
        return true;
      }),

    /** The author named `username` (any case), with their counts of published posts and followers. */
    findAuthor: (username: string): Promise<AuthorRow | undefined> =>
      db
        .selectFrom('users')
        .select((eb) => [
          'users.id',
          'users.username',
          'users.full_name',
          'users.bio',
          'users.image',
          eb
            .selectFrom('posts')
            .select(eb.fn.countAll<number>().as('n'))
            .whereRef('posts.author_id', '=', 'users.id')
            .where('posts.status', '=', LISTED)
            .as('posts_count'),
          eb
            .selectFrom('follows')
            .select(eb.fn.countAll<number>().as('n'))
            .whereRef('follows.author_id', '=', 'users.id')
            .as('followers_count'),
        ])
        .where((eb) => eb(eb.fn('lower', ['users.username']), '=', username.toLowerCase()))
        .where('users.disabled', '=', false)
        .executeTakeFirst()
        .then(
          (row) =>
            row && {
              ...row,
              posts_count: Number(row.posts_count ?? 0),
              followers_count: Number(row.followers_count ?? 0),
            },
        ),

    /** The profiles of these authors (username, bio, image), by id. */
    authorsByIds: (ids: readonly string[]) =>
      ids.length === 0
        ? Promise.resolve([])
        : db
            .selectFrom('users')
            .select(['id', 'username', 'bio', 'image'])
            .where('id', 'in', [...new Set(ids)])
            .execute(),

    /** Which of `authorIds` the user follows. */
    followingAmong: async (followerId: string, authorIds: readonly string[]): Promise<Set<string>> => {
      if (authorIds.length === 0) return new Set();
      const rows = await db
        .selectFrom('follows')
        .select('author_id')
        .where('follower_id', '=', followerId)
        .where('author_id', 'in', [...new Set(authorIds)])
        .execute();
      return new Set(rows.map((row) => row.author_id));
    },

    isFollowing: async (followerId: string, authorId: string): Promise<boolean> =>
      (await db
        .selectFrom('follows')
        .select('author_id')
        .where('follower_id', '=', followerId)
        .where('author_id', '=', authorId)
        .executeTakeFirst()) !== undefined,

    /** Follows (or not) the author; idempotent (the pair is unique). */
    setFollow: async (followerId: string, authorId: string, on: boolean, now: Date): Promise<void> => {
      if (on)
        await db
          .insertInto('follows')
          .values({ follower_id: followerId, author_id: authorId, created_at: now })
          .onConflict((oc) => oc.columns(['follower_id', 'author_id']).doNothing())
          .execute();
      else
        await db
          .deleteFrom('follows')
          .where('follower_id', '=', followerId)
          .where('author_id', '=', authorId)
          .execute();
    },

    /** Tags with published posts, most used first (then by slug), at most `limit`. */
    listTags: (limit: number) =>
      db
        .selectFrom('tags')
        .select(['name', 'slug', 'posts_count'])
        .where('posts_count', '>', 0)
        .orderBy('posts_count', 'desc')
        .orderBy('slug')
        .limit(limit)
        .execute(),

    findTag: (slug: string) =>
      db
        .selectFrom('tags')
        .select(['name', 'slug', 'posts_count'])
        .where('slug', '=', slug)
        .executeTakeFirst(),

    /**
     * Before the user is deleted (in that transaction): the counts their rows are part of on other
     * posts and tags. Their own posts, favourites and follows go by ON DELETE CASCADE.
     */
    forgetUser: async (trx: Kysely<Database>, userId: string): Promise<void> => {
      const listedTags = trx
        .selectFrom('post_tags')
        .innerJoin('posts', 'posts.id', 'post_tags.post_id')
        .where('posts.author_id', '=', userId)
        .where('post_tags.listed_at', 'is not', null);
      const counts = await listedTags
        .select(['post_tags.tag_id', (eb) => eb.fn.countAll<number>().as('n')])
        .groupBy('post_tags.tag_id')
        .execute();
      for (const { tag_id, n } of counts)
        await trx
          .updateTable('tags')
          .set((eb) => ({ posts_count: eb('posts_count', '-', Number(n)) }))
          .where('id', '=', tag_id)
          .execute();
      await trx
        .updateTable('posts')
        .set((eb) => ({ favorites_count: eb('favorites_count', '-', 1) }))
        .where('id', 'in', (eb) => eb.selectFrom('favorites').select('post_id').where('user_id', '=', userId))
        .where('author_id', '!=', userId)
        .execute();
    },

    /**
     * For comments/: the next comment number of the post, and the move of its count of visible
     * comments, in the comment's own transaction.
     */
    nextCommentNumber: async (trx: Kysely<Database>, postId: string): Promise<number> => {
      const row = await trx
        .updateTable('posts')
        .set((eb) => ({ last_comment_number: eb('last_comment_number', '+', 1) }))
        .where('id', '=', postId)
        .returning('last_comment_number')
        .executeTakeFirstOrThrow();
      return Number(row.last_comment_number);
    },
    moveCommentsCount: (trx: Kysely<Database>, postId: string, by: number) =>
      trx
        .updateTable('posts')
        .set((eb) => ({ comments_count: eb('comments_count', '+', by) }))
        .where('id', '=', postId)
        .execute(),
  };
}

function searchTooLong(cause: unknown): SearchUnavailableError {
  return new SearchUnavailableError('the search took too long; try a longer or more specific text', {
    cause,
  });
}

/** A search refused for its cost (the queue of searches is full, or it ran past its budget): the service answers 503. */
export class SearchUnavailableError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'SearchUnavailableError';
  }
}
