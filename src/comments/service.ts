import { v7 as uuidv7 } from 'uuid';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Principal } from '../authz/principal.ts';
import type { Clock } from '../clock.ts';
import { toPage } from '../db/cursor.ts';
import { isUuid } from '../db/ids.ts';
import type { CommentStatus } from '../db/schema.ts';
import { ForbiddenError, NotFoundError, UnprocessableError } from '../http/errors.ts';
import { decodeCursor } from '../http/pagination.ts';
import { RENDERER_VERSION, renderMarkdown } from '../posts/markdown.ts';
import type { PostsService } from '../posts/service.ts';
import { canSee, LISTED, mayChange, type Viewer, viewerOf } from '../posts/visibility.ts';
import type { CommentsRepository, CommentWithAuthor } from './repository.ts';

export type CommentsService = ReturnType<typeof createCommentsService>;
export type PublicComment = ReturnType<typeof toPublic>;

export const COMMENT_MAX = 5000;

/** The scheduler's job: stores the HTML of comments an older renderer made, made again (a batch a run). */
export async function renderStaleComments(comments: CommentsRepository): Promise<{ comments: number }> {
  const stale = await comments.staleRenders(RENDERER_VERSION, 200);
  for (const row of stale)
    await comments.storeRender(row.id, {
      html: renderMarkdown(row.body, 'comment'),
      rendered_with: RENDERER_VERSION,
    });
  return { comments: stale.length };
}

function toPublic(row: CommentWithAuthor) {
  return {
    id: row.id,
    number: Number(row.number),
    body: row.body,
    html: row.rendered_with >= RENDERER_VERSION ? row.html : renderMarkdown(row.body, 'comment'),
    status: row.status,
    author: { id: row.author_id, username: row.author_username },
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function cleanBody(body: string): string {
  const trimmed = body.trim();
  const length = [...trimmed].length;
  if (length < 1 || length > COMMENT_MAX)
    throw new UnprocessableError([
      { path: '/body', message: `must be 1 to ${COMMENT_MAX} characters after trimming` },
    ]);
  return trimmed;
}

/**
 * Comments on published posts (API.md "Blog"): Markdown without images, links marked as the users'.
 * A pending comment (COMMENTS=moderated) is seen only by its author, the post's author and admins;
 * a comment on a post that is not published is as missing as the post.
 */
export function createCommentsService(deps: {
  comments: CommentsRepository;
  posts: PostsService;
  audit: AuditTrail;
  clock: Clock;
  mode: 'open' | 'moderated' | 'off';
}) {
  const { comments, posts, audit, clock, mode } = deps;
  const notFound = () => new NotFoundError('comment not found', 'comment_not_found');

  /** The published post (for anyone), or 404 post_not_found. */
  async function publishedPost(postId: string) {
    const post = await posts.visibleTo(postId);
    if (post.status !== LISTED) throw new NotFoundError('post not found', 'post_not_found');
    return post;
  }

  const moderates = (viewer: Viewer | undefined, post: { author_id: string }) =>
    viewer !== undefined && mayChange(post, viewer);

  /** The comment and its post, if `viewer` may see them: the post published, the comment visible or theirs to see. */
  async function visible(id: string, viewer: Viewer) {
    const comment = isUuid(id) ? await comments.findById(id) : undefined;
    if (!comment) throw notFound();
    const post = await posts.visibleTo(comment.post_id).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    if (!post || !canSee(post, undefined)) throw notFound();
    if (comment.status !== 'visible' && comment.author_id !== viewer.userId && !moderates(viewer, post))
      throw notFound();
    return { comment, post };
  }

  return {
    mode,

    /** GET /posts/{id}/comments: oldest first; pending ones only for those who may see them. */
    list: async (postId: string, query: { limit?: number; cursor?: string }, principal?: Principal) => {
      const post = await publishedPost(postId);
      const viewer = viewerOf(principal);
      const limit = query.limit ?? 20;
      const rows = await comments.list(post.id, {
        after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
        limit,
        pendingOf: viewer?.userId,
        allPending: moderates(viewer, post),
      });
      const page = toPage(rows, limit);
      return { data: page.data.map(toPublic), next_cursor: page.next_cursor };
    },

    /** The visible comments of a published post, oldest first, for the reader site. */
    listVisible: async (postId: string, limit: number) => {
      const rows = await comments.list(postId, { limit, allPending: false });
      return toPage(rows, limit).data.map(toPublic);
    },

    create: async (principal: Principal, postId: string, body: string) => {
      if (mode === 'off') throw new ForbiddenError('this server takes no new comments', 'comments_off');
      const post = await publishedPost(postId);
      const text = cleanBody(body);
      const now = clock.now();
      const id = uuidv7();
      const status: CommentStatus = mode === 'moderated' ? 'pending' : 'visible';
      await comments.insert({
        id,
        post_id: post.id,
        author_id: principal.userId,
        body: text,
        html: renderMarkdown(text, 'comment'),
        rendered_with: RENDERER_VERSION,
        status,
        created_at: now,
        updated_at: now,
      });
      if (status === 'visible') posts.changed();
      return toPublic((await comments.findById(id))!);
    },

    /**
     * PATCH /comments/{id}: its author changes `body`; the post's author or an admin `status`
     * (moderation, audited). Each asks for its own right; one who may see but not change is 403.
     */
    update: async (
      principal: Principal,
      id: string,
      changes: { body?: string | undefined; status?: CommentStatus | undefined },
      facts: AuditFacts = {},
    ) => {
      const viewer = viewerOf(principal)!;
      const text = changes.body === undefined ? undefined : cleanBody(changes.body);
      const { post } = await visible(id, viewer);
      const now = clock.now();
      let moderated: { from: CommentStatus; to: CommentStatus } | undefined;
      let events: ReturnType<AuditTrail['event']>[] = [];
      const changed = await comments.update(
        id,
        (current) => {
          if (text !== undefined && current.author_id !== viewer.userId)
            throw new ForbiddenError('only its author may change a comment’s text', 'not_comment_author');
          if (changes.status !== undefined && !moderates(viewer, post))
            throw new ForbiddenError(
              'only the post’s author or an admin may moderate its comments',
              'not_comment_author',
            );
          if (changes.status !== undefined && changes.status !== current.status)
            moderated = { from: current.status, to: changes.status };
        },
        () => ({
          ...(text !== undefined && {
            body: text,
            html: renderMarkdown(text, 'comment'),
            rendered_with: RENDERER_VERSION,
          }),
          ...(changes.status !== undefined && { status: changes.status }),
          updated_at: now,
        }),
        (current) => {
          events = moderated
            ? [
                audit.event('comment_moderated', {
                  ...facts,
                  userId: current.author_id,
                  actorId: viewer.userId,
                  details: {
                    comment_id: current.id,
                    post_id: current.post_id,
                    from: moderated.from,
                    to: moderated.to,
                  },
                }),
              ]
            : [];
          return events;
        },
      );
      if (!changed) throw notFound();
      audit.published(events);
      // A moderation moves the post's count; an edit changes the post's page.
      if (moderated || text !== undefined) posts.changed();
      return toPublic((await comments.findById(id))!);
    },

    /** DELETE /comments/{id}: its author, the post's author or an admin. */
    remove: async (principal: Principal, id: string) => {
      const viewer = viewerOf(principal)!;
      const { post } = await visible(id, viewer);
      const removed = await comments.remove(id, (current) => {
        if (current.author_id !== viewer.userId && !moderates(viewer, post))
          throw new ForbiddenError(
            'only its author, the post’s author or an admin may delete a comment',
            'not_comment_author',
          );
      });
      if (!removed) throw notFound();
      posts.changed();
    },

    /** The id of a post's comment by its number, if there is one. */
    idOfNumber: async (postId: string, number: number) => (await comments.findByNumber(postId, number))?.id,

    forgetUser: comments.forgetUser,
  };
}
