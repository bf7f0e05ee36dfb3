import { type Kysely, sql } from 'kysely';
import type { Engine } from '../db/database.ts';
import { olderThan } from '../db/keyset.ts';
import type { Database, NewPost, PostUpdate } from '../db/schema.ts';
import type { Cursor } from '../http/pagination.ts';

export type PostsRepository = ReturnType<typeof createPostsRepository>;

export interface ListPostsFilter {
  authorId?: string | undefined;
  authorUsername?: string | undefined;
  text?: string | undefined;
  after?: Cursor | undefined;
  limit: number;
}

/** `%`, `_` and `\` in user text match themselves. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function createPostsRepository(db: Kysely<Database>, engine: Engine) {
  const withAuthor = () =>
    db
      .selectFrom('posts')
      .innerJoin('users', 'users.id', 'posts.author_id')
      .selectAll('posts')
      .select('users.username as author_username');

  // Case-insensitive substring match: SQLite's LIKE already ignores ASCII case; PostgreSQL needs ILIKE.
  const like = sql.raw(engine === 'postgres' ? 'ilike' : 'like');

  return {
    findById: (id: string) => withAuthor().where('posts.id', '=', id).executeTakeFirst(),

    /** Newest first, keyset-paged on (created_at, id): no skips or repeats while posts are added. */
    list: (filter: ListPostsFilter) => {
      let query = withAuthor();
      if (filter.authorId !== undefined) query = query.where('posts.author_id', '=', filter.authorId);
      if (filter.authorUsername !== undefined) {
        query = query.where((eb) =>
          eb(eb.fn('lower', ['users.username']), '=', filter.authorUsername!.toLowerCase()),
        );
      }
      if (filter.text !== undefined) {
        const pattern = likePattern(filter.text);
        query = query.where(
          sql<boolean>`(posts.title ${like} ${pattern} escape '\\' or posts.content ${like} ${pattern} escape '\\')`,
        );
      }
      if (filter.after) query = query.where(olderThan(filter.after, 'posts.created_at', 'posts.id'));
      return query
        .orderBy('posts.created_at', 'desc')
        .orderBy('posts.id', 'desc')
        .limit(filter.limit + 1)
        .execute();
    },

    insert: (post: NewPost) => db.insertInto('posts').values(post).execute(),

    update: (id: string, changes: PostUpdate) =>
      db.updateTable('posts').set(changes).where('id', '=', id).execute(),

    remove: (id: string) => db.deleteFrom('posts').where('id', '=', id).execute(),
  };
}
