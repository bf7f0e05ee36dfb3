import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, preHandlerAsyncHookHandler } from 'fastify';
import { type OptionalAuth, principalOf, type RequireAuth } from '../authz/principal.ts';
import { Type } from '../http/json-schema.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { Page } from '../http/pagination.ts';
import { problemResponses } from '../http/problem.ts';
import { ref } from '../http/schema-ref.ts';
import {
  CreatePostBody,
  FeedQuery,
  ListPostsQuery,
  MyPostsQuery,
  PatchPostBody,
  PostIdParams,
  PostPublic,
  PostSlugParams,
} from './schemas.ts';
import type { ListPage, PostsService, PublicPost } from './service.ts';

const ETAG = { etag: { type: 'string', description: 'The post’s version, for If-Match' } };
const IF_MATCH = Type.Object({
  'if-match': Type.Optional(
    Type.String({
      maxLength: 1000,
      description: 'the ETag of the version you changed; another one is 412 and nothing changes',
    }),
  ),
});

export const postsRoutes: FastifyPluginAsyncTypebox<{
  posts: PostsService;
  requireAuth: RequireAuth;
  optionalAuth: OptionalAuth;
  /** RATE_LIMIT_WRITES per user, after the guard. */
  writeLimit: preHandlerAsyncHookHandler;
}> = async (app, { posts, requireAuth, optionalAuth, writeLimit }) => {
  const write = [{ [SECURITY_SCHEME]: ['posts:write'] }];
  const optional: Array<Record<string, string[]>> = [{}, { [SECURITY_SCHEME]: [] }];
  const withEtag = (description: string) => ({ ...ref(PostPublic, description), headers: ETAG });
  const Post = withEtag('The post; ETag names this version');
  const PostsPage = Page(ref(PostPublic), 'A page of posts');
  const send = (reply: FastifyReply, answer: { post: PublicPost; etag: string }) =>
    reply.header('etag', answer.etag).send(answer.post);

  /**
   * The anonymous public list's pages come from the service's caches (posts.listPublic): a page it
   * keeps is the same object while kept, and so is each post in any page it makes. Each post is
   * serialised once, by its schema (the page schema's items), its UTF-8 bytes kept beside it, and a
   * page is those bytes joined (a string would be measured and encoded again for every answer). A
   * caller with a token gets `favorited` on their own copy, serialised by the route as a whole.
   */
  const serialised = new WeakMap<object, Buffer>();
  const postBytes = new WeakMap<PublicPost, Buffer>();
  const PostItem: Record<string, unknown> = { ...ref(PostPublic) };
  const COMMA = Buffer.from(',');
  const pageBytes = (reply: FastifyReply, page: ListPage): Buffer => {
    let body = serialised.get(page);
    if (body) return body;
    const serialisePost = reply.compileSerializationSchema(PostItem); // compiled once, then Fastify's cache
    const parts: Buffer[] = [Buffer.from('{"data":[')];
    for (const post of page.data) {
      let bytes = postBytes.get(post);
      if (!bytes) {
        bytes = Buffer.from(serialisePost(post));
        postBytes.set(post, bytes);
      }
      if (parts.length > 1) parts.push(COMMA);
      parts.push(bytes);
    }
    parts.push(Buffer.from(`],"next_cursor":${JSON.stringify(page.next_cursor)}}`));
    body = Buffer.concat(parts);
    serialised.set(page, body);
    return body;
  };

  app.get(
    '/posts',
    {
      onRequest: optionalAuth,
      schema: {
        tags: ['posts'],
        summary: 'List published posts, newest first',
        description:
          'Anyone may read; a token adds `favorited`. Filter by `author` (a username), `tag` (a tag’s slug), `favorited_by` (a username) or search `q` (3 to 200 characters, found anywhere in the title or content, case-insensitive); a page at a time with `limit` and `cursor`. Drafts and scheduled posts are never listed. A page of long posts may hold fewer than `limit` (about a million characters of text at most): follow `next_cursor`.',
        security: optional,
        querystring: ListPostsQuery,
        response: { 200: PostsPage, ...problemResponses(401, 422, 503) },
      },
    },
    async (request, reply) => {
      if (request.principal) return posts.list(request.query, request.principal);
      const page = await posts.listPublic(request.query);
      // The bytes go out as they are: they were serialised by this route's schema above.
      return reply.type('application/json; charset=utf-8').send(pageBytes(reply, page) as never);
    },
  );

  app.get(
    '/posts/:id',
    {
      onRequest: optionalAuth,
      schema: {
        tags: ['posts'],
        summary: 'Read a post',
        description:
          'Anyone may read a published post; a draft or scheduled one only its author and admins (404 for anyone else). An id that is not a UUID is a 404, like an unknown one.',
        security: optional,
        params: PostIdParams,
        response: { 200: Post, ...problemResponses(401, 404) },
      },
    },
    async (request, reply) => send(reply, await posts.get(request.params.id, request.principal)),
  );

  app.get(
    '/posts/slug/:slug',
    {
      onRequest: optionalAuth,
      schema: {
        tags: ['posts'],
        summary: 'Read a post by its slug',
        description: 'As GET /posts/{id}. A slug the post had before answers 301 to its current one.',
        security: optional,
        params: PostSlugParams,
        response: {
          200: Post,
          301: {
            description: 'An old slug: Location names the current one',
            headers: { location: { type: 'string' } },
            type: 'null',
          },
          ...problemResponses(401, 404),
        },
      },
    },
    async (request, reply) => {
      const found = await posts.getBySlug(request.params.slug, request.principal);
      if ('moved' in found)
        return reply.code(301).header('location', `/posts/slug/${found.moved}`).send(null);
      return send(reply, found);
    },
  );

  app.post(
    '/posts',
    {
      onRequest: requireAuth('posts:write'),
      preHandler: writeLimit,
      schema: {
        tags: ['posts'],
        summary: 'Write a post',
        description:
          'You are its author. The title is trimmed (1 to 200 characters), the content Markdown of 1 to 60000 characters. `status` is `published` unless you say `draft` or `scheduled` (with a future `published_at`). The slug is made from the title (`-2`, `-3`, … when taken) unless you give one (409 `slug_taken` when taken). Limited per user per minute (RATE_LIMIT_WRITES); `Location` names the new post.',
        security: write,
        body: CreatePostBody,
        response: {
          201: withEtag('Created; Location names the new post'),
          ...problemResponses(400, 401, 403, 409, 413, 415, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const answer = await posts.create(principalOf(request), request.body);
      return send(reply.code(201).header('location', `/posts/${answer.post.id}`), answer);
    },
  );

  const changeDescription =
    'Someone else’s post is 403 unless you are an admin; a missing one (or a draft of someone else’s) 404. With `If-Match`, a post changed since that ETag is 412 and nothing changes. A new slug keeps the old one as a redirect (409 `slug_taken` when another post has or had it). Limited per user per minute.';

  app.put(
    '/posts/:id',
    {
      onRequest: requireAuth('posts:write'),
      preHandler: writeLimit,
      schema: {
        tags: ['posts'],
        summary: 'Replace a post (its author, or an admin)',
        description: `Title and content, and the optional fields: those left out return to their defaults (no excerpt, no tags, no image, published; the slug stays). ${changeDescription}`,
        security: write,
        params: PostIdParams,
        headers: IF_MATCH,
        body: CreatePostBody,
        response: { 200: Post, ...problemResponses(400, 401, 403, 404, 409, 412, 413, 415, 422, 429) },
      },
    },
    async (request, reply) =>
      send(
        reply,
        await posts.update(principalOf(request), request.params.id, request.body, {
          replace: true,
          ifMatch: request.headers['if-match'],
        }),
      ),
  );

  app.patch(
    '/posts/:id',
    {
      onRequest: requireAuth('posts:write'),
      preHandler: writeLimit,
      schema: {
        tags: ['posts'],
        summary: 'Change some of a post’s fields (its author, or an admin)',
        description: `Any of the fields; the others stay. ${changeDescription}`,
        security: write,
        params: PostIdParams,
        headers: IF_MATCH,
        body: PatchPostBody,
        response: { 200: Post, ...problemResponses(400, 401, 403, 404, 409, 412, 413, 415, 422, 429) },
      },
    },
    async (request, reply) =>
      send(
        reply,
        await posts.update(principalOf(request), request.params.id, request.body, {
          replace: false,
          ifMatch: request.headers['if-match'],
        }),
      ),
  );

  app.delete(
    '/posts/:id',
    {
      onRequest: requireAuth('posts:write'),
      preHandler: writeLimit,
      schema: {
        tags: ['posts'],
        summary: 'Delete a post (its author, or an admin)',
        description:
          'Its comments, favourites and old slugs go with it. Someone else’s post is 403 unless you are an admin; a missing one is 404. Limited per user per minute.',
        security: write,
        params: PostIdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...problemResponses(401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      await posts.remove(principalOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  for (const [method, on] of [
    ['PUT', true],
    ['DELETE', false],
  ] as const) {
    app.route({
      method,
      url: '/posts/:id/favorite',
      onRequest: requireAuth('posts:write'),
      schema: {
        tags: ['posts'],
        summary: on ? 'Favourite a post' : 'Stop favouriting a post',
        description: `Idempotent: the answer is the post with \`favorited\` ${on}. A post that is not published is 404.`,
        security: write,
        params: PostIdParams,
        response: { 200: Post, ...problemResponses(401, 403, 404) },
      },
      handler: async (request, reply) =>
        send(reply, await posts.favorite(principalOf(request), request.params.id, on)),
    });
  }

  app.get(
    '/users/me/posts',
    {
      onRequest: requireAuth(),
      schema: {
        tags: ['accounts'],
        summary: 'Your posts, any status, newest written first',
        description:
          'The posts you wrote — drafts, scheduled and published, or one `status` — a page at a time.',
        security: [{ [SECURITY_SCHEME]: [] }],
        querystring: MyPostsQuery,
        response: { 200: PostsPage, ...problemResponses(401, 422) },
      },
    },
    async (request) => posts.listOwn(principalOf(request), request.query),
  );

  app.get(
    '/users/me/feed',
    {
      onRequest: requireAuth(),
      schema: {
        tags: ['posts'],
        summary: 'Published posts of the authors you follow, newest first',
        description: 'A page at a time (`limit`, `cursor`).',
        security: [{ [SECURITY_SCHEME]: [] }],
        querystring: FeedQuery,
        response: { 200: PostsPage, ...problemResponses(401, 422) },
      },
    },
    async (request) => posts.feed(principalOf(request), request.query),
  );
};
