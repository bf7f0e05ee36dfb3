import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { preHandlerAsyncHookHandler } from 'fastify';
import { requestFacts } from '../audit/events.ts';
import { type OptionalAuth, principalOf, type RequireAuth } from '../authz/principal.ts';
import { Type } from '../http/json-schema.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { Page, PageQuery } from '../http/pagination.ts';
import { problemResponses } from '../http/problem.ts';
import { ref } from '../http/schema-ref.ts';
import { PostIdParams } from '../posts/schemas.ts';
import { COMMENT_MAX, type CommentsService } from './service.ts';

const Body = Type.String({
  minLength: 1,
  maxLength: 20_000,
  pattern: '^[^\\u0000]*$',
  description: `Markdown without images, trimmed, 1 to ${COMMENT_MAX} characters; links get rel="nofollow ugc noopener"`,
  examples: ['Thank you, this *helped*.'],
});
const CommentStatus = Type.Union([Type.Literal('visible'), Type.Literal('pending')], {
  description: '`pending` (COMMENTS=moderated) is seen only by its author, the post’s author and admins',
});

export const CommentPublic = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    number: Type.Integer({ minimum: 1, description: '1, 2, … within its post' }),
    body: Type.String({ description: 'Markdown' }),
    html: Type.String({ description: 'the body rendered and sanitised' }),
    status: CommentStatus,
    author: Type.Object({
      id: Type.String({ format: 'uuid' }),
      username: Type.String({ examples: ['ada'] }),
    }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Comment' },
);

const CommentIdParams = Type.Object({
  id: Type.String({ maxLength: 100, description: 'comment id (UUID)' }),
});

export const commentsRoutes: FastifyPluginAsyncTypebox<{
  comments: CommentsService;
  requireAuth: RequireAuth;
  optionalAuth: OptionalAuth;
  /** RATE_LIMIT_COMMENTS per user, after the guard. */
  commentLimit: preHandlerAsyncHookHandler;
}> = async (app, { comments, requireAuth, optionalAuth, commentLimit }) => {
  const write = [{ [SECURITY_SCHEME]: ['comments:write'] }];
  const Comment = ref(CommentPublic, 'The comment');

  app.get(
    '/posts/:id/comments',
    {
      onRequest: optionalAuth,
      schema: {
        tags: ['comments'],
        summary: 'A post’s comments, oldest first',
        description:
          'Anyone may read the visible ones; a token adds your own pending ones, and all of them for the post’s author and admins. A post that is not published is 404.',
        security: [{}, { [SECURITY_SCHEME]: [] }],
        params: PostIdParams,
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: {
          200: Page(ref(CommentPublic), 'A page of comments, oldest first'),
          ...problemResponses(401, 404, 422),
        },
      },
    },
    async (request) => comments.list(request.params.id, request.query, request.principal),
  );

  app.post(
    '/posts/:id/comments',
    {
      onRequest: requireAuth('comments:write'),
      preHandler: commentLimit,
      schema: {
        tags: ['comments'],
        summary: 'Comment on a post',
        description: `A published post only (else 404). Visible at once, or \`pending\` until moderated when COMMENTS=moderated; COMMENTS=off is 403 \`comments_off\`. Limited per user per minute (RATE_LIMIT_COMMENTS).`,
        security: write,
        params: PostIdParams,
        body: Type.Object({ body: Body }, { additionalProperties: false }),
        response: {
          201: ref(CommentPublic, 'Created'),
          ...problemResponses(400, 401, 403, 404, 413, 415, 422, 429),
        },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await comments.create(principalOf(request), request.params.id, request.body.body)),
  );

  app.patch(
    '/comments/:id',
    {
      onRequest: requireAuth('comments:write'),
      schema: {
        tags: ['comments'],
        summary: 'Change a comment’s text (its author) or status (the post’s author, or an admin)',
        description:
          'Setting `status` moderates the comment (audited as `comment_moderated`). One who may see the comment but not make the change is 403; a comment you may not see is 404.',
        security: write,
        params: CommentIdParams,
        body: Type.Object(
          { body: Type.Optional(Body), status: Type.Optional(CommentStatus) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Comment, ...problemResponses(400, 401, 403, 404, 413, 415, 422) },
      },
    },
    async (request) =>
      comments.update(principalOf(request), request.params.id, request.body, requestFacts(request)),
  );

  app.delete(
    '/comments/:id',
    {
      onRequest: requireAuth('comments:write'),
      schema: {
        tags: ['comments'],
        summary: 'Delete a comment (its author, the post’s author, or an admin)',
        description:
          'A visible comment leaves its post’s count. Someone else’s comment on another’s post is 403; a comment you may not see is 404.',
        security: write,
        params: CommentIdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...problemResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await comments.remove(principalOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
};
