import { v7 as uuidv7 } from 'uuid';
import type { Principal } from '../authz/principal.ts';
import type { Clock } from '../clock.ts';
import { ForbiddenError, NotFoundError, UnprocessableError } from '../http/errors.ts';
import { decodeCursor, encodeCursor, isUuid, toPage } from '../http/pagination.ts';
import type { PostsRepository } from './repository.ts';
import { TITLE_MAX } from './schemas.ts';

export type PostsService = ReturnType<typeof createPostsService>;

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

export function createPostsService(deps: { posts: PostsRepository; clock: Clock }) {
  const { posts, clock } = deps;

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

  return {
    get: async (id: string) => toPublic(await get(id)),

    list: async (query: {
      author?: string;
      q?: string;
      limit?: number;
      cursor?: string;
      authorId?: string;
    }) => {
      const limit = query.limit ?? 20;
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const filter = { authorId: query.authorId, authorUsername: query.author, after, limit };
      const { rows, continueAfter } =
        query.q === undefined ? { rows: await posts.list(filter) } : await posts.search(query.q, filter);
      const page = toPage(rows, limit);
      // A search that ran out of time before filling the page goes on after the last post it examined.
      const next_cursor =
        page.next_cursor ??
        (continueAfter ? encodeCursor({ createdAt: continueAfter.createdAt, id: continueAfter.id }) : null);
      return { data: page.data.map(toPublic), next_cursor };
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
      return toPublic(await get(id));
    },

    update: async (principal: Principal, id: string, changes: { title?: string; content?: string }) => {
      await getOwned(principal, id);
      await posts.update(id, {
        ...(changes.title !== undefined && { title: cleanTitle(changes.title) }),
        ...(changes.content !== undefined && { content: changes.content }),
        updated_at: clock.now(),
      });
      return toPublic(await get(id));
    },

    remove: async (principal: Principal, id: string) => {
      await getOwned(principal, id);
      await posts.remove(id);
    },
  };
}
