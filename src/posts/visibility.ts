import type { Principal } from '../authz/principal.ts';
import type { PostStatus } from '../db/schema.ts';

/**
 * Who reads: nobody (undefined), or a signed-in caller and whether their token carries `admin`.
 * The one place that says who sees what of the blog (API.md "Blog"): every list, count, page and
 * feed holds only LISTED posts; a single post is seen by anyone when it is LISTED, and otherwise
 * only by its author and admins.
 */
export interface Viewer {
  readonly userId: string;
  readonly admin: boolean;
}

/** The status of every post in a public list, count, page, feed and sitemap. */
export const LISTED: PostStatus = 'published';

export function viewerOf(principal: Principal | undefined): Viewer | undefined {
  return principal && { userId: principal.userId, admin: principal.scopes.includes('admin') };
}

/** Whether `viewer` may be shown this post at all. */
export function canSee(post: { status: PostStatus; author_id: string }, viewer: Viewer | undefined): boolean {
  return post.status === LISTED || (viewer !== undefined && mayChange(post, viewer));
}

/** Whether `viewer` may change (or delete) this post: its author, or an admin. */
export function mayChange(post: { author_id: string }, viewer: Viewer): boolean {
  return viewer.admin || post.author_id === viewer.userId;
}
