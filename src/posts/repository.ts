import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Cursor } from '../db/cursor.ts';
import { isPostgres } from '../db/dialect.ts';
import { olderThan } from '../db/keyset.ts';
import type { Database, NewPost, PostRow, PostUpdate } from '../db/schema.ts';
import { beginScan, endScan, isScanBudgetSpent } from '../db/sqlite-functions.ts';

export type PostsRepository = ReturnType<typeof createPostsRepository>;
export type PostWithAuthor = PostRow & { author_username: string };

export interface ListPostsFilter {
  authorId?: string | undefined;
  authorUsername?: string | undefined;
  after?: Cursor | undefined;
  limit: number;
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

  /** Newest first, keyset-paged on (created_at, id): no skips or repeats while posts are added. */
  function newestFirst(executor: Kysely<Database>, filter: ListPostsFilter) {
    let query = withAuthor(executor);
    if (filter.authorId !== undefined) query = query.where('posts.author_id', '=', filter.authorId);
    if (filter.authorUsername !== undefined) {
      query = query.where((eb) =>
        eb(eb.fn('lower', ['users.username']), '=', filter.authorUsername!.toLowerCase()),
      );
    }
    if (filter.after) query = query.where(olderThan(filter.after, 'posts.created_at', 'posts.id'));
    return query
      .orderBy('posts.created_at', 'desc')
      .orderBy('posts.id', 'desc')
      .limit(filter.limit + 1);
  }

  /**
   * PostgreSQL: ILIKE on title or content, served by the pg_trgm GIN indexes, newest first by
   * (created_at, id), under a statement timeout.
   */
  async function searchPostgres(text: string, filter: ListPostsFilter): Promise<Rows> {
    const pattern = likePattern(text);
    try {
      const rows = await db.transaction().execute(async (trx) => {
        await sql`set local statement_timeout = ${sql.lit(POSTGRES_SEARCH_TIMEOUT_MS)}`.execute(trx);
        return newestFirst(trx, filter)
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
   * SQLite: the FTS5 trigram index yields candidate rows newest first (by rowid: posts are
   * inserted as they are written), each checked exactly, ignoring case, by inkgate_scan_match,
   * which stops the statement once SEARCH_BUDGET_MS has passed. Then the matches found so far are
   * the page, and the next cursor goes on from the last post examined.
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

  return {
    findById: (id: string) => withAuthor().where('posts.id', '=', id).executeTakeFirst(),

    list: (filter: ListPostsFilter): Promise<PostWithAuthor[]> => newestFirst(db, filter).execute(),

    /** Posts whose title or content holds `text` (3 to 200 characters), ignoring case, newest first. */
    search: (text: string, filter: ListPostsFilter): Promise<Rows> =>
      postgres ? searchPostgres(text, filter) : searchTurn(() => searchSqlite(text, filter)),

    insert: (post: NewPost) => db.insertInto('posts').values(post).execute(),

    update: (id: string, changes: PostUpdate) =>
      db.updateTable('posts').set(changes).where('id', '=', id).execute(),

    remove: (id: string) => db.deleteFrom('posts').where('id', '=', id).execute(),
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
