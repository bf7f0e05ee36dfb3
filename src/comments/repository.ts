import type { Kysely } from 'kysely';
import { withAuditEvents } from '../audit/repository.ts';
import type { Cursor } from '../db/cursor.ts';
import { isPostgres } from '../db/dialect.ts';
import type { CommentRow, CommentStatus, Database, NewAuditEvent } from '../db/schema.ts';

export type CommentsRepository = ReturnType<typeof createCommentsRepository>;
export type CommentWithAuthor = CommentRow & { author_username: string };

/** What comments/ needs of the posts it hangs on, inside its own transactions (posts/ owns those rows). */
export interface PostCounters {
  nextCommentNumber(trx: Kysely<Database>, postId: string): Promise<number>;
  moveCommentsCount(trx: Kysely<Database>, postId: string, by: number): Promise<unknown>;
}

export function createCommentsRepository(db: Kysely<Database>, counters: PostCounters) {
  const postgres = isPostgres(db);
  const withAuthor = (executor: Kysely<Database> = db) =>
    executor
      .selectFrom('comments')
      .innerJoin('users', 'users.id', 'comments.author_id')
      .selectAll('comments')
      .select('users.username as author_username');

  const locked = (trx: Kysely<Database>, id: string) => {
    const query = withAuthor(trx).where('comments.id', '=', id);
    return (postgres ? query.forUpdate('comments') : query).executeTakeFirst();
  };

  return {
    findById: (id: string) => withAuthor().where('comments.id', '=', id).executeTakeFirst(),

    /** A comment by its post and per-post number (the RealWorld API's id). */
    findByNumber: (postId: string, number: number) =>
      withAuthor()
        .where('comments.post_id', '=', postId)
        .where('comments.number', '=', number)
        .executeTakeFirst(),

    /**
     * The post's comments oldest first, keyset-paged on (created_at, id); the visible ones, and the
     * pending ones of `pendingOf` (a user id) or all of them (`allPending`). limit + 1 rows.
     */
    list: (
      postId: string,
      options: {
        after?: Cursor | undefined;
        limit: number;
        pendingOf?: string | undefined;
        allPending: boolean;
      },
    ) => {
      let query = withAuthor().where('comments.post_id', '=', postId);
      if (!options.allPending) {
        const pendingOf = options.pendingOf;
        query = query.where((eb) =>
          pendingOf === undefined
            ? eb('comments.status', '=', 'visible')
            : eb.or([eb('comments.status', '=', 'visible'), eb('comments.author_id', '=', pendingOf)]),
        );
      }
      if (options.after) {
        const { createdAt, id } = options.after;
        query = query.where((eb) =>
          eb.or([
            eb('comments.created_at', '>', createdAt),
            eb.and([eb('comments.created_at', '=', createdAt), eb('comments.id', '>', id)]),
          ]),
        );
      }
      return query
        .orderBy('comments.created_at')
        .orderBy('comments.id')
        .limit(options.limit + 1)
        .execute();
    },

    /** A new comment, numbered within its post, and the post's count of visible ones, in one transaction. */
    insert: (comment: Omit<CommentRow, 'number'>) =>
      db.transaction().execute(async (trx) => {
        const number = await counters.nextCommentNumber(trx, comment.post_id);
        await trx
          .insertInto('comments')
          .values({ ...comment, number })
          .execute();
        if (comment.status === 'visible') await counters.moveCommentsCount(trx, comment.post_id, 1);
        return number;
      }),

    /**
     * Changes the comment after `check` accepted it as it is now (locked), with `events`; the post's
     * count moves when its status does. False when it is gone.
     */
    update: (
      id: string,
      check: (current: CommentWithAuthor) => void,
      changes: (current: CommentWithAuthor) => {
        body?: string;
        html?: string;
        rendered_with?: number;
        status?: CommentStatus;
        updated_at: Date;
      },
      events: (current: CommentWithAuthor) => readonly NewAuditEvent[],
    ) =>
      db.transaction().execute(async (trx) => {
        const current = await locked(trx, id);
        if (!current) return false;
        check(current);
        const set = changes(current);
        return withAuditEvents(trx, events(current), async (inner) => {
          await inner.updateTable('comments').set(set).where('id', '=', id).execute();
          if (set.status !== undefined && set.status !== current.status)
            await counters.moveCommentsCount(inner, current.post_id, set.status === 'visible' ? 1 : -1);
          return true;
        });
      }),

    /** Deletes the comment after `check` accepted it; the post's count moves when it was visible. */
    remove: (id: string, check: (current: CommentWithAuthor) => void) =>
      db.transaction().execute(async (trx) => {
        const current = await locked(trx, id);
        if (!current) return false;
        check(current);
        await trx.deleteFrom('comments').where('id', '=', id).execute();
        if (current.status === 'visible') await counters.moveCommentsCount(trx, current.post_id, -1);
        return true;
      }),

    /** Comments whose HTML an older renderer made (at most `limit`). */
    staleRenders: (version: number, limit: number) =>
      db
        .selectFrom('comments')
        .select(['id', 'body'])
        .where('rendered_with', '<', version)
        .limit(limit)
        .execute(),

    storeRender: (id: string, render: { html: string; rendered_with: number }) =>
      db.updateTable('comments').set(render).where('id', '=', id).execute(),

    /** Before the user is deleted (in that transaction): their visible comments leave the counts of other posts. */
    forgetUser: async (trx: Kysely<Database>, userId: string): Promise<void> => {
      const counts = await trx
        .selectFrom('comments')
        .select(['post_id', (eb) => eb.fn.countAll<number>().as('n')])
        .where('author_id', '=', userId)
        .where('status', '=', 'visible')
        .groupBy('post_id')
        .execute();
      for (const { post_id, n } of counts) await counters.moveCommentsCount(trx, post_id, -Number(n));
    },
  };
}
