/**
 * The RealWorld ("Conduit") API
 * under /api, mounted only with REALWORLD_API=on. Names are mapped (mapping.ts) over the blog's and
 * the accounts' services; every rule is theirs. Lenient as its clients need, under /api only: a
 * body-less request that says JSON is taken as having none, and unknown body fields are ignored.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { AccountsService } from '../accounts/service.ts';
import { requestFacts } from '../audit/events.ts';
import type { OptionalAuth, Principal, RequireAuth } from '../authz/principal.ts';
import type { CommentsService } from '../comments/service.ts';
import { canonicalAddress } from '../http/client-address.ts';
import { NotFoundError, UnprocessableError } from '../http/errors.ts';
import { useJsonParser } from '../http/server.ts';
import { LoginRefusedError } from '../login/errors.ts';
import type { PostsService, PublicPost } from '../posts/service.ts';
import { realWorldAnswer, type Subject } from './errors.ts';
import { type RealWorldProfile, toArticle, toComment, toProfile } from './mapping.ts';
import { type createRealWorldUsers, RealWorldLoginError } from './users.ts';

type Body = Record<string, Record<string, unknown> | undefined> | undefined;

const MAX_OFFSET = 10_000;

/** Wrapped bodies as the specification has them; unknown fields are taken (its clients send some). */
const wrapped = (
  wrapper: string,
  fields: Record<string, { type: string; maxLength?: number; items?: unknown }>,
) => ({
  type: 'object',
  additionalProperties: true,
  properties: { [wrapper]: { type: 'object', additionalProperties: true, properties: fields } },
});
const STRING = { type: 'string', maxLength: 60_000 };
const SHORT = { type: 'string', maxLength: 1000 };
const ANSWER = (description: string) => ({ description, type: 'object', additionalProperties: true });
const ERRORS = (description: string) => ({
  description,
  type: 'object',
  properties: {
    errors: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
  },
});
const SLUG = { type: 'object', properties: { slug: { type: 'string', maxLength: 200 } } };
const USERNAME = { type: 'object', properties: { username: { type: 'string', maxLength: 100 } } };
const TOKEN: Array<Record<string, string[]>> = [{ RealWorldToken: [] }];
const OPTIONAL: Array<Record<string, string[]>> = [{}, { RealWorldToken: [] }];
/** One operation's document: its tag, security, inputs and the answers it may give. */
function doc(
  summary: string,
  options: {
    security: Array<Record<string, string[]>>;
    status?: number;
    params?: object;
    querystring?: object;
    body?: object;
    errors?: number[];
  },
) {
  const status = options.status ?? 200;
  return {
    tags: ['realworld'],
    summary,
    description: `${summary}, as the RealWorld specification has it; errors are \`{"errors": {"<field>": ["<message>"]}}\`.`,
    security: options.security,
    ...(options.params && { params: options.params }),
    ...(options.querystring && { querystring: options.querystring }),
    ...(options.body && { body: options.body }),
    response: {
      [status]: status === 204 ? { description: 'Done', type: 'null' } : ANSWER('The answer'),
      ...Object.fromEntries((options.errors ?? []).map((code) => [code, ERRORS('Errors by field')])),
    },
  };
}

const LIST_QUERY = {
  type: 'object',
  properties: {
    tag: { type: 'string', maxLength: 96 },
    author: { type: 'string', maxLength: 32 },
    favorited: { type: 'string', maxLength: 32 },
    limit: { type: 'integer', format: 'int32', minimum: 1, maximum: 100, default: 20 },
    offset: { type: 'integer', format: 'int32', minimum: 0, maximum: MAX_OFFSET, default: 0 },
  },
};

export const realWorldRoutes: FastifyPluginAsync<{
  posts: PostsService;
  comments: CommentsService;
  accounts: AccountsService;
  users: ReturnType<typeof createRealWorldUsers>;
  requireAuth: RequireAuth;
  optionalAuth: OptionalAuth;
  /** RATE_LIMIT_SIGNUP, as on POST /users; RATE_LIMIT_COMMENTS, as on POST /posts/{id}/comments. */
  signupLimit: preHandlerAsyncHookHandler;
  commentLimit: preHandlerAsyncHookHandler;
}> = async (
  app,
  { posts, comments, accounts, users, requireAuth, optionalAuth, signupLimit, commentLimit },
) => {
  // Their DELETEs say Content-Type: application/json and send nothing: no body, not a 400. Any other
  // body is read as everywhere else: UTF-8 only (RFC 8259 §8.1), prototype poisoning refused.
  useJsonParser(app, { emptyIsNone: true });

  const subjectOf = (request: FastifyRequest): Subject =>
    request.url.includes('/comments')
      ? 'comment'
      : request.url.startsWith('/api/profiles')
        ? 'profile'
        : request.url.startsWith('/api/user')
          ? 'user'
          : 'article';
  app.setErrorHandler(async (error, request, reply) => {
    if (
      error instanceof RealWorldLoginError ||
      (error instanceof LoginRefusedError && error.reason === 'bad_credentials')
    )
      return reply.code(401).send({ errors: { credentials: ['invalid'] } });
    if (error instanceof LoginRefusedError)
      return reply
        .code(429)
        .header('retry-after', String(error.retryAfterSeconds ?? 60))
        .send({ errors: { credentials: ['too many failed logins; try again later'] } });
    const { answer, body } = realWorldAnswer(error, subjectOf(request));
    if (answer.status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(answer.status).headers(answer.headers).send(body);
  });

  const field = (body: Body, wrapper: string): Record<string, unknown> => body?.[wrapper] ?? {};
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  const principal = (request: FastifyRequest): Principal => request.principal!;
  const tokenOf = (request: FastifyRequest) =>
    (request.headers.authorization ?? '').replace(/^\S+\s+/, '').trim();

  async function articles(list: PublicPost[], viewer: Principal | undefined, body: boolean) {
    const profiles = await posts.profilesOf(
      list.map((post) => post.author.id),
      viewer,
    );
    return list.map((post) => {
      const author = profiles.get(post.author.id);
      const profile: RealWorldProfile = author
        ? toProfile(author, author.following)
        : { username: post.author.username, bio: null, image: null, following: false };
      return toArticle(post, profile, { body });
    });
  }
  async function article(post: PublicPost, viewer: Principal | undefined) {
    return { article: (await articles([post], viewer, true))[0] };
  }
  /** The published post of a slug (an old slug names it too): one lookup, as GET /posts/slug/{slug}. */
  async function bySlug(slug: string, viewer: Principal | undefined): Promise<PublicPost> {
    let found = await posts.getBySlug(slug, viewer);
    if ('moved' in found) found = await posts.getBySlug(found.moved, viewer);
    if ('moved' in found || found.post.status !== 'published')
      throw new NotFoundError('article not found', 'post_not_found');
    return found.post;
  }

  /** The specification's 422 for each missing field, before any rule of the blog runs. */
  const required = (input: Record<string, unknown>, names: readonly string[]) => {
    const blank = names.filter(
      (name) => typeof input[name] !== 'string' || (input[name] as string).trim() === '',
    );
    if (blank.length > 0)
      throw new UnprocessableError(blank.map((name) => ({ path: `/${name}`, message: "can't be blank" })));
  };

  app.post(
    '/api/users',
    {
      preHandler: signupLimit,
      schema: doc('Register', {
        security: [],
        status: 201,
        body: wrapped('user', { username: SHORT, email: SHORT, password: SHORT }),
        errors: [409, 422, 429],
      }),
    },
    async (request, reply) => {
      const user = field(request.body as Body, 'user');
      required(user, ['username', 'email', 'password']);
      const answer = await users.register(
        {
          username: text(user.username) ?? '',
          email: text(user.email) ?? '',
          password: text(user.password) ?? '',
        },
        requestFacts(request),
      );
      return reply.code(201).send({ user: answer });
    },
  );

  app.post(
    '/api/users/login',
    {
      schema: doc('Log in', {
        security: [],
        body: wrapped('user', { email: SHORT, password: SHORT }),
        errors: [401, 422, 429],
      }),
    },
    async (request) => {
      const user = field(request.body as Body, 'user');
      required(user, ['email', 'password']);
      return {
        user: await users.login(
          { email: text(user.email) ?? '', password: text(user.password) ?? '' },
          { address: canonicalAddress(request.ip), facts: requestFacts(request), log: request.log },
        ),
      };
    },
  );

  app.get(
    '/api/user',
    {
      onRequest: requireAuth('profile'),
      schema: doc('The current user', { security: TOKEN, errors: [401] }),
    },
    async (request) => {
      const account = principal(request).account!;
      return {
        user: {
          email: account.email,
          token: tokenOf(request),
          username: account.username,
          bio: account.bio === '' ? null : account.bio,
          image: account.image,
        },
      };
    },
  );

  /**
   * PUT /api/user: bio, image ("" is none), username; the email or password only within five minutes
   * of the password sign-in (or signup) that made the token — then as the native routes do it. A new
   * username or email answers a new token of the same session.
   */
  app.put(
    '/api/user',
    {
      onRequest: requireAuth('profile'),
      schema: doc('Update the current user', {
        security: TOKEN,
        body: wrapped('user', { email: SHORT, username: SHORT, password: SHORT, bio: SHORT, image: SHORT }),
        errors: [401, 403, 409, 422],
      }),
    },
    async (request) => {
      const caller = principal(request);
      const input = field(request.body as Body, 'user');
      const facts = requestFacts(request);
      const bio = input.bio === null ? '' : text(input.bio);
      const image = input.image === null || input.image === '' ? null : text(input.image);
      const password = text(input.password);
      const email = text(input.email);
      const username = text(input.username);
      if (password !== undefined)
        await accounts.changePassword({
          userId: caller.userId,
          sessionId: caller.sessionId,
          signedInAt: caller.authTime,
          newPassword: password,
          facts,
        });
      const user = await accounts.updateProfile(
        caller.userId,
        {
          ...(bio !== undefined && { bio }),
          ...((input.image === null || typeof input.image === 'string') && { image }),
          ...(username !== undefined && { username }),
          ...(email !== undefined && { email }),
        },
        { sessionId: caller.sessionId, facts, signedInAt: caller.authTime },
      );
      const renamed = user.username !== caller.username || user.email !== caller.account?.email;
      const token = renamed ? await users.reissue(caller, user.username) : tokenOf(request);
      return {
        user: {
          email: user.email,
          token,
          username: user.username,
          bio: user.bio === '' ? null : user.bio,
          image: user.image,
        },
      };
    },
  );

  app.get(
    '/api/profiles/:username',
    {
      onRequest: optionalAuth,
      schema: doc('A profile', { security: OPTIONAL, params: USERNAME, errors: [401, 404] }),
    },
    async (request) => {
      const { username } = request.params as { username: string };
      const author = await posts.author(username, request.principal);
      return { profile: toProfile(author, author.following) };
    },
  );

  for (const [method, on] of [
    ['POST', true],
    ['DELETE', false],
  ] as const) {
    app.route({
      method,
      url: '/api/profiles/:username/follow',
      onRequest: requireAuth('posts:write'),
      schema: doc(on ? 'Follow a user' : 'Unfollow a user', {
        security: TOKEN,
        params: USERNAME,
        errors: [401, 403, 404, 422],
      }),
      handler: async (request) => {
        const author = await posts.follow(
          principal(request),
          (request.params as { username: string }).username,
          on,
        );
        return { profile: toProfile(author, author.following) };
      },
    });
    app.route({
      method,
      url: '/api/articles/:slug/favorite',
      onRequest: requireAuth('posts:write'),
      schema: doc(on ? 'Favorite an article' : 'Unfavorite an article', {
        security: TOKEN,
        params: SLUG,
        errors: [401, 403, 404],
      }),
      handler: async (request) => {
        const post = await bySlug((request.params as { slug: string }).slug, principal(request));
        const { post: after } = await posts.favorite(principal(request), post.id, on);
        return article(after, principal(request));
      },
    });
  }

  const listQuery = (request: FastifyRequest) => {
    const query = request.query as Record<string, string | undefined>;
    const number = (value: string | undefined, fallback: number, max: number) => {
      const n = value === undefined ? fallback : Number(value);
      return Number.isInteger(n) && n >= 0 ? Math.min(n, max) : fallback;
    };
    return {
      tag: query.tag,
      author: query.author,
      favorited_by: query.favorited,
      limit: Math.max(1, number(query.limit, 20, 100)),
      offset: number(query.offset, 0, MAX_OFFSET),
    };
  };

  /** The anonymous list's answers, by the page the posts service kept (see GET /api/articles). */
  const anonymousLists = new WeakMap<object, Buffer>();
  app.get(
    '/api/articles',
    {
      onRequest: optionalAuth,
      schema: doc('Articles, newest first', {
        security: OPTIONAL,
        querystring: LIST_QUERY,
        errors: [401, 422],
      }),
    },
    async (request, reply) => {
      const { data, count } = await posts.listAt(listQuery(request), request.principal);
      if (request.principal)
        return { articles: await articles(data, request.principal, false), articlesCount: count };
      // Anyone's view: the posts service hands out the same page while its list cache keeps it, so
      // its answer is mapped, serialised and encoded once for as long (as GET /posts does).
      let bytes = anonymousLists.get(data);
      if (bytes === undefined) {
        const answer = { articles: await articles(data, undefined, false), articlesCount: count };
        bytes = Buffer.from(reply.serialize(answer) as string);
        anonymousLists.set(data, bytes);
      }
      return reply.type('application/json; charset=utf-8').send(bytes as never);
    },
  );

  app.get(
    '/api/articles/feed',
    {
      onRequest: requireAuth(),
      schema: doc('Articles of followed authors', {
        security: TOKEN,
        querystring: LIST_QUERY,
        errors: [401, 422],
      }),
    },
    async (request) => {
      const { data, count } = await posts.listAt(
        { ...listQuery(request), followedBy: principal(request).userId },
        principal(request),
      );
      return { articles: await articles(data, principal(request), false), articlesCount: count };
    },
  );

  app.get(
    '/api/articles/:slug',
    {
      onRequest: optionalAuth,
      schema: doc('An article', { security: OPTIONAL, params: SLUG, errors: [401, 404] }),
    },
    async (request) =>
      article(await bySlug((request.params as { slug: string }).slug, request.principal), request.principal),
  );

  const articleInput = (body: Body) => {
    const input = field(body, 'article');
    return {
      title: text(input.title),
      content: text(input.body),
      excerpt: text(input.description),
      tags: Array.isArray(input.tagList)
        ? input.tagList.filter((t): t is string => typeof t === 'string')
        : undefined,
    };
  };

  app.post(
    '/api/articles',
    {
      onRequest: requireAuth('posts:write'),
      schema: doc('Create an article', {
        security: TOKEN,
        status: 201,
        body: wrapped('article', {
          title: SHORT,
          description: SHORT,
          body: STRING,
          tagList: { type: 'array', maxItems: 100, items: SHORT } as never,
        }),
        errors: [401, 403, 422],
      }),
    },
    async (request, reply) => {
      required(field(request.body as Body, 'article'), ['title', 'description', 'body']);
      const input = articleInput(request.body as Body);
      const { post } = await posts.create(principal(request), {
        ...input,
        title: input.title ?? '',
        content: input.content ?? '',
      });
      return reply.code(201).send(await article(post, principal(request)));
    },
  );

  app.put(
    '/api/articles/:slug',
    {
      onRequest: requireAuth('posts:write'),
      schema: doc('Update an article', {
        security: TOKEN,
        params: SLUG,
        body: wrapped('article', {
          title: SHORT,
          description: SHORT,
          body: STRING,
          tagList: { type: 'array', maxItems: 100, items: SHORT } as never,
        }),
        errors: [401, 403, 404, 422],
      }),
    },
    async (request) => {
      const current = await bySlug((request.params as { slug: string }).slug, principal(request));
      const { post } = await posts.update(
        principal(request),
        current.id,
        articleInput(request.body as Body),
        {
          replace: false,
        },
      );
      return article(post, principal(request));
    },
  );

  app.delete(
    '/api/articles/:slug',
    {
      onRequest: requireAuth('posts:write'),
      schema: doc('Delete an article', {
        security: TOKEN,
        status: 204,
        params: SLUG,
        errors: [401, 403, 404],
      }),
    },
    async (request, reply) => {
      const current = await bySlug((request.params as { slug: string }).slug, principal(request));
      await posts.remove(principal(request), current.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/articles/:slug/comments',
    {
      onRequest: optionalAuth,
      schema: doc('An article’s comments', { security: OPTIONAL, params: SLUG, errors: [401, 404] }),
    },
    async (request) => {
      const post = await bySlug((request.params as { slug: string }).slug, request.principal);
      const page = await comments.list(post.id, { limit: 100 }, request.principal);
      const profiles = await posts.profilesOf(
        page.data.map((c) => c.author.id),
        request.principal,
      );
      return {
        comments: page.data.map((c) => {
          const author = profiles.get(c.author.id);
          return toComment(
            c,
            author
              ? toProfile(author, author.following)
              : { username: c.author.username, bio: null, image: null, following: false },
          );
        }),
      };
    },
  );

  app.post(
    '/api/articles/:slug/comments',
    {
      onRequest: requireAuth('comments:write'),
      preHandler: commentLimit,
      schema: doc('Comment on an article', {
        security: TOKEN,
        status: 201,
        params: SLUG,
        body: wrapped('comment', { body: SHORT }),
        errors: [401, 403, 404, 422, 429],
      }),
    },
    async (request, reply) => {
      const post = await bySlug((request.params as { slug: string }).slug, principal(request));
      const made = await comments.create(
        principal(request),
        post.id,
        text(field(request.body as Body, 'comment').body) ?? '',
      );
      const profiles = await posts.profilesOf([made.author.id], principal(request));
      const author = profiles.get(made.author.id)!;
      return reply.code(201).send({ comment: toComment(made, toProfile(author, author.following)) });
    },
  );

  app.delete(
    '/api/articles/:slug/comments/:id',
    {
      onRequest: requireAuth('comments:write'),
      schema: doc('Delete a comment', {
        security: TOKEN,
        status: 204,
        params: {
          type: 'object',
          properties: { slug: { type: 'string', maxLength: 200 }, id: { type: 'string', maxLength: 20 } },
        },
        errors: [401, 403, 404],
      }),
    },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const params = request.params as { slug: string; id: string };
      const post = await bySlug(params.slug, principal(request));
      const id = /^\d{1,9}$/.test(params.id)
        ? await comments.idOfNumber(post.id, Number(params.id))
        : undefined;
      if (id === undefined) throw new NotFoundError('comment not found', 'comment_not_found');
      await comments.remove(principal(request), id);
      return reply.code(204).send();
    },
  );

  app.get('/api/tags', { schema: doc('Tags', { security: [] }) }, async () => ({
    tags: (await posts.tags()).data.map((tag) => tag.name),
  }));
};
