import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type OptionalAuth, principalOf, type RequireAuth } from '../authz/principal.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { problemResponses } from '../http/problem.ts';
import { ref } from '../http/schema-ref.ts';
import { AuthorParams, AuthorPublic, TagsList } from './schemas.ts';
import type { PostsService } from './service.ts';

/** Tags, author profiles and follows: the blog's ways to find posts. */
export const authorsRoutes: FastifyPluginAsyncTypebox<{
  posts: PostsService;
  requireAuth: RequireAuth;
  optionalAuth: OptionalAuth;
}> = async (app, { posts, requireAuth, optionalAuth }) => {
  const Author = ref(AuthorPublic, 'The author');

  app.get(
    '/tags',
    {
      schema: {
        tags: ['posts'],
        summary: 'Tags of published posts, most used first',
        description: 'At most 100; `count` is the number of published posts with the tag.',
        response: { 200: TagsList },
      },
    },
    async () => posts.tags(),
  );

  app.get(
    '/authors/:username',
    {
      onRequest: optionalAuth,
      schema: {
        tags: ['posts'],
        summary: 'An author’s profile',
        description:
          'Their name, bio, image and counts of published posts and followers; a token adds `following`.',
        security: [{}, { [SECURITY_SCHEME]: [] }],
        params: AuthorParams,
        response: { 200: Author, ...problemResponses(401, 404) },
      },
    },
    async (request) => posts.author(request.params.username, request.principal),
  );

  for (const [method, on] of [
    ['PUT', true],
    ['DELETE', false],
  ] as const) {
    app.route({
      method,
      url: '/authors/:username/follow',
      onRequest: requireAuth('posts:write'),
      schema: {
        tags: ['posts'],
        summary: on ? 'Follow an author' : 'Stop following an author',
        description: `Idempotent: the answer is the author with \`following\` ${on}. Following yourself is 422.`,
        security: [{ [SECURITY_SCHEME]: ['posts:write'] }],
        params: AuthorParams,
        response: { 200: Author, ...problemResponses(401, 403, 404, 422) },
      },
      handler: async (request) => posts.follow(principalOf(request), request.params.username, on),
    });
  }
};
