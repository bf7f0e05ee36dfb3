import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { preHandlerAsyncHookHandler } from 'fastify';
import { Type } from 'typebox';
import { principalOf, type RequireAuth } from '../authz/principal.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { Page } from '../http/pagination.ts';
import { problemResponses } from '../http/problem.ts';
import { ref } from '../http/schema-ref.ts';
import {
  CreatePostBody,
  ListPostsQuery,
  MyPostsQuery,
  PatchPostBody,
  PostIdParams,
  PostPublic,
} from './schemas.ts';
import type { PostsService } from './service.ts';

export const postsRoutes: FastifyPluginAsyncTypebox<{
  posts: PostsService;
  requireAuth: RequireAuth;
  /** RATE_LIMIT_WRITES per user, after the guard. */
  writeLimit: preHandlerAsyncHookHandler;
}> = async (app, { posts, requireAuth, writeLimit }) => {
  const write = [{ [SECURITY_SCHEME]: ['posts:write'] }];
  const Post = ref(PostPublic, 'The post');
  const Created = ref(PostPublic, 'Created; Location names the new post');
  const PostsPage = Page(ref(PostPublic), 'A page of posts, newest first');

  /**
   * The public list's pages come from the service's cache (posts.listPublic); each page object is
   * serialised once, by this route's response schema, and its text reused while the service hands out
   * the same object.
   */
  const serialised = new WeakMap<object, string>();

  app.get(
    '/posts',
    {
      schema: {
        tags: ['posts'],
        summary: 'List posts, newest first',
        description:
          'Anyone may read. Filter by `author` (a username) or search `q` (3 to 200 characters, found anywhere in the title or content, case-insensitive); a page at a time with `limit` and `cursor`.',
        querystring: ListPostsQuery,
        response: { 200: PostsPage, ...problemResponses(422) },
      },
    },
    async (request, reply) => {
      const page = await posts.listPublic(request.query);
      let body = serialised.get(page);
      if (body === undefined) {
        body = reply.serialize(page) as string;
        serialised.set(page, body);
      }
      // A string body goes out as it is: it was serialised by this route's schema above.
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );

  app.get(
    '/posts/:id',
    {
      schema: {
        tags: ['posts'],
        summary: 'Read a post',
        description: 'Anyone may read. An id that is not a UUID is a 404, like an unknown one.',
        params: PostIdParams,
        response: { 200: Post, ...problemResponses(404) },
      },
    },
    async (request) => posts.get(request.params.id),
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
          'You are its author. The title is trimmed (1 to 200 characters), the content 1 to 60000 characters. Limited per user per minute (RATE_LIMIT_WRITES); `Location` names the new post.',
        security: write,
        body: CreatePostBody,
        response: { 201: Created, ...problemResponses(400, 401, 403, 413, 415, 422, 429) },
      },
    },
    async (request, reply) => {
      const post = await posts.create(principalOf(request), request.body);
      return reply.code(201).header('location', `/posts/${post.id}`).send(post);
    },
  );

  app.put(
    '/posts/:id',
    {
      onRequest: requireAuth('posts:write'),
      preHandler: writeLimit,
      schema: {
        tags: ['posts'],
        summary: 'Replace a post (its author, or an admin)',
        description:
          'Both title and content. Someone else’s post is 403 unless you are an admin; a missing one is 404. Limited per user per minute.',
        security: write,
        params: PostIdParams,
        body: CreatePostBody,
        response: { 200: Post, ...problemResponses(400, 401, 403, 404, 413, 415, 422, 429) },
      },
    },
    async (request) => posts.update(principalOf(request), request.params.id, request.body),
  );

  app.patch(
    '/posts/:id',
    {
      onRequest: requireAuth('posts:write'),
      preHandler: writeLimit,
      schema: {
        tags: ['posts'],
        summary: 'Change a post’s title or content (its author, or an admin)',
        description:
          'Either field or both; the other stays. Someone else’s post is 403 unless you are an admin; a missing one is 404. Limited per user per minute.',
        security: write,
        params: PostIdParams,
        body: PatchPostBody,
        response: { 200: Post, ...problemResponses(400, 401, 403, 404, 413, 415, 422, 429) },
      },
    },
    async (request) => posts.update(principalOf(request), request.params.id, request.body),
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
          'Someone else’s post is 403 unless you are an admin; a missing one is 404. Limited per user per minute.',
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

  app.get(
    '/users/me/posts',
    {
      onRequest: requireAuth(),
      schema: {
        tags: ['accounts'],
        summary: 'Your posts, newest first',
        description: 'The posts you wrote, a page at a time (`limit`, `cursor`).',
        security: [{ [SECURITY_SCHEME]: [] }],
        querystring: MyPostsQuery,
        response: { 200: PostsPage, ...problemResponses(401, 422) },
      },
    },
    async (request) => posts.list({ ...request.query, authorId: principalOf(request).userId }),
  );
};
