/**
 * The RealWorld ("Conduit") API's names for the blog's things, and nothing else: an article is a
 * published post (`body` = content, `description` = excerpt, `tagList` = tags), a profile is an
 * author, a comment's `id` is its per-post number. No rule lives here; the blog's services decide.
 */
import type { PublicComment } from '../comments/service.ts';
import type { PublicPost } from '../posts/service.ts';

/** The client the RealWorld API's sessions belong to (and the suffix of its tokens' audience). */
export const REALWORLD_CLIENT_ID = 'realworld';

export interface RealWorldProfile {
  username: string;
  bio: string | null;
  image: string | null;
  following: boolean;
}

/** An empty bio or image is null (the specification's front ends test for null). */
export function toProfile(
  author: { username: string; bio: string; image: string | null },
  following: boolean,
): RealWorldProfile {
  return {
    username: author.username,
    bio: author.bio === '' ? null : author.bio,
    image: author.image,
    following,
  };
}

export function toUser(
  user: { email: string; username: string; bio: string; image: string | null },
  token: string,
) {
  return {
    email: user.email,
    token,
    username: user.username,
    bio: user.bio === '' ? null : user.bio,
    image: user.image,
  };
}

export function toArticle(post: PublicPost, author: RealWorldProfile, options: { body: boolean }) {
  return {
    slug: post.slug,
    title: post.title,
    description: post.excerpt,
    ...(options.body && { body: post.content }),
    tagList: post.tags,
    createdAt: post.created_at,
    updatedAt: post.updated_at,
    favorited: post.favorited,
    favoritesCount: post.favorites_count,
    author,
  };
}

export function toComment(comment: PublicComment, author: RealWorldProfile) {
  return {
    id: comment.number,
    createdAt: comment.created_at,
    updatedAt: comment.updated_at,
    body: comment.body,
    author,
  };
}

/** The specification's error body: `{"errors": {"<field>": ["<message>"]}}`. */
export function realWorldErrors(entries: Record<string, string[]>) {
  return { errors: entries };
}
