import { LRUCache } from 'lru-cache';
import { v7 as uuidv7 } from 'uuid';
import type { Principal } from '../authz/principal.ts';
import type { Clock } from '../clock.ts';
import { encodeCursor, toPage } from '../db/cursor.ts';
import { isUuid } from '../db/ids.ts';
import {
  ForbiddenError,
  NotFoundError,
  ServiceUnavailableError,
  UnprocessableError,
} from '../http/errors.ts';
import { decodeCursor } from '../http/pagination.ts';
import { type PostsRepository, SearchUnavailableError } from './repository.ts';
import { TITLE_MAX } from './schemas.ts';

export type PostsService = ReturnType<typeof createPostsService>;

interface ListQuery {
  readonly author?: string | undefined;
  readonly q?: string | undefined;
  readonly limit?: number | undefined;
  readonly cursor?: string | undefined;
}

type ListPage = { readonly data: ReturnType<typeof toPublic>[]; readonly next_cursor: string | null };

type PostWithAuthor = NonNullable<Awaited<ReturnType<PostsRepository['findById']>>>;

function toPublic(row: PostWithAuthor) {
  return {
    id: row.id,
    title: row.title,
    content: row.content,
    author: { id: row.author_id, username: row.author_username },
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
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

/** How long a public list page is reused (API.md: lists may lag another instance's writes by this). */
const LIST_CACHE_MS = 1000;

export function createPostsService(deps: { posts: PostsRepository; clock: Clock }) {
  const { posts, clock } = deps;

  /**
   * Public list pages, kept for at most a second (by the injected clock): the front page is what
   * everyone reads, and the same for everyone. Keyed by the normalised query, so junk parameters
   * cannot push pages out; a page is the same object while kept, so its route serialises it once.
   * Every successful write through this service empties it, so a writer always reads their own
   * write; other instances' writes (and users deleted by an admin) show within the second.
   */
  const lists = new LRUCache<string, ListPage>({
    max: 1000,
    // Half of the 8 MiB the serialised pages had alone: the route keeps each page's text beside it.
    maxSize: 4 * 1024 * 1024,
    sizeCalculation: (page) =>
      Math.max(
        1,
        page.data.reduce((bytes, post) => bytes + post.content.length + 200, 0),
      ),
    ttl: LIST_CACHE_MS,
    perf: { now: () => clock.now().getTime() },
    ttlResolution: 0, // every read asks the clock (a cached "now" would run on real time)
  });
  const written = <T>(result: T): T => {
    lists.clear();
    return result;
  };

  /** A search refused for its cost is a 503 with Retry-After (API.md "Abuse limits"). */
  async function search(text: string, filter: Parameters<PostsRepository['search']>[1]) {
    try {
      return await posts.search(text, filter);
    } catch (error) {
      if (error instanceof SearchUnavailableError)
        throw new ServiceUnavailableError(error.message, 1, { cause: error.cause ?? error });
      throw error;
    }
  }

  async function get(id: string): Promise<PostWithAuthor> {
    const row = isUuid(id) ? await posts.findById(id) : undefined;
    if (!row) throw new NotFoundError('post not found', 'post_not_found');
    return row;
  }

  /** Only the author may change a post, or a caller holding the admin scope (API.md). */
  async function getOwned(principal: Principal, id: string): Promise<PostWithAuthor> {
    const row = await get(id);
    if (row.author_id !== principal.userId && !principal.scopes.includes('admin')) {
      throw new ForbiddenError('only the author of this post or an admin may change it', 'not_author');
    }
    return row;
  }

  async function list(query: ListQuery & { authorId?: string }): Promise<ListPage> {
    const limit = query.limit ?? 20;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const filter = { authorId: query.authorId, authorUsername: query.author, after, limit };
    const { rows, continueAfter } =
      query.q === undefined ? { rows: await posts.list(filter) } : await search(query.q, filter);
    const page = toPage(rows, limit);
    // A search that ran out of time before filling the page goes on after the last post it examined.
    const next_cursor =
      page.next_cursor ??
      (continueAfter ? encodeCursor({ createdAt: continueAfter.createdAt, id: continueAfter.id }) : null);
    return { data: page.data.map(toPublic), next_cursor };
  }

  return {
    get: async (id: string) => toPublic(await get(id)),

    list,

    /** The public list (anyone's view), through the cache above. */
    listPublic: async (query: ListQuery): Promise<ListPage> => {
      // The schema refuses NUL in every parameter, so the fields cannot run into each other.
      const key = `${query.author ?? ''}\u0000${query.q ?? ''}\u0000${query.limit ?? 20}\u0000${query.cursor ?? ''}`;
      const kept = lists.get(key);
      if (kept) return kept;
      const page = await list({ author: query.author, q: query.q, limit: query.limit, cursor: query.cursor });
      lists.set(key, page);
      return page;
    },

    create: async (principal: Principal, body: { title: string; content: string }) => {
      const now = clock.now();
      const id = uuidv7();
      await posts.insert({
        id,
        author_id: principal.userId,
        title: cleanTitle(body.title),
        content: body.content,
        created_at: now,
        updated_at: now,
      });
      return written(toPublic(await get(id)));
    },

    update: async (principal: Principal, id: string, changes: { title?: string; content?: string }) => {
      await getOwned(principal, id);
      await posts.update(id, {
        ...(changes.title !== undefined && { title: cleanTitle(changes.title) }),
        ...(changes.content !== undefined && { content: changes.content }),
        updated_at: clock.now(),
      });
      return written(toPublic(await get(id)));
    },

    remove: async (principal: Principal, id: string) => {
      await getOwned(principal, id);
      written(await posts.remove(id));
    },
  };
}
