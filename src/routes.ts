import type { FastifyRequest } from 'fastify';
import { adminRoutes } from './accounts/admin-routes.ts';
import { accountsRoutes, changesEmail } from './accounts/routes.ts';
import { Accepted, UserPublic } from './accounts/schemas.ts';
import { auditRoutes } from './audit/routes.ts';
import { AuditEventPublic } from './audit/schemas.ts';
import { principalOf } from './authz/principal.ts';
import { CommentPublic, commentsRoutes } from './comments/routes.ts';
import type { Config } from './config.ts';
import type { OpenDatabase } from './db/database.ts';
import { canonicalAddress } from './http/client-address.ts';
import { metaRoutes } from './http/meta-routes.ts';
import type { Metrics } from './http/metrics.ts';
import { Problem } from './http/problem.ts';
import { limitRoute, type RouteLimit } from './http/rate-limits.ts';
import type { HttpServer } from './http/server.ts';
import { jwksRoutes } from './keys/jwks-routes.ts';
import type { KeyRing } from './keys/key-ring.ts';
import { passkeyRoutes } from './mfa/passkeys-routes.ts';
import { mfaRoutes } from './mfa/routes.ts';
import { authorizationRoutes } from './oauth/authorizations-routes.ts';
import { authorizeRoutes } from './oauth/authorize-routes.ts';
import { clientRoutes } from './oauth/clients/routes.ts';
import { ClientPublic } from './oauth/clients/schemas.ts';
import { OAuthErrorBody } from './oauth/errors.ts';
import { metadataRoutes } from './oauth/metadata-routes.ts';
import { tokenRoutes } from './oauth/token-routes.ts';
import { PersonalToken, personalTokenRoutes } from './personal-tokens/routes.ts';
import { authorsRoutes } from './posts/authors-routes.ts';
import { postsRoutes } from './posts/routes.ts';
import { AuthorPublic, PostPublic } from './posts/schemas.ts';
import { realWorldRoutes } from './realworld/routes.ts';
import { createRealWorldUsers } from './realworld/users.ts';
import { recoveryRoutes } from './recovery/routes.ts';
import type { Services } from './services.ts';
import { SessionPublic, sessionRoutes } from './sessions/routes.ts';
import { createSite, sendSiteAnswer, siteRoutes } from './site/routes.ts';

const byAddress = (request: FastifyRequest) => canonicalAddress(request.ip);
const byUser = (request: FastifyRequest) => principalOf(request).userId;

/**
 * The route limits (API.md "Abuse limits"), one row each: the failed-login throttle and the
 * successful-login limit are the login rules' own (login/).
 */
function limitPolicies(config: Config) {
  // Mail requests per address: four times what one mailbox may receive (RATE_LIMIT_MAIL per hour).
  const mail: RouteLimit = {
    name: 'mail',
    max: config.rateLimitMail * 4,
    windowSeconds: 3600,
    key: byAddress,
  };
  return {
    signup: { name: 'signup', max: config.rateLimitSignup, windowSeconds: 3600, key: byAddress },
    writes: { name: 'writes', max: config.rateLimitWrites, windowSeconds: 60, key: byUser },
    comments: { name: 'comments', max: config.rateLimitComments, windowSeconds: 60, key: byUser },
    mail,
    // An email change sends mail, and its answer is a probe: it counts in the mail window.
    emailChange: { ...mail, applies: changesEmail },
    // Each WebAuthn options request stores a challenge (five minutes): a minute's worth per address.
    passkeyOptions: { name: 'passkey_options', max: 30, windowSeconds: 60, key: byAddress },
  } satisfies Record<string, RouteLimit>;
}

/** Every route, over the services; shared schemas first, at the root. */
export async function registerRoutes(
  app: HttpServer,
  parts: {
    config: Config;
    database: OpenDatabase;
    keys: KeyRing;
    metrics: Metrics | undefined;
    fanOutUp: (() => boolean) | undefined;
  },
  services: Services,
): Promise<void> {
  const { config, metrics } = parts;
  // Added here, at the root: a plugin that adds one gets a scope with Fastify's default validator
  // (which drops unknown fields instead of refusing them with 422).
  for (const schema of [
    Problem,
    OAuthErrorBody,
    UserPublic,
    Accepted,
    PostPublic,
    AuthorPublic,
    CommentPublic,
    SessionPublic,
    AuditEventPublic,
    ClientPublic,
    PersonalToken,
  ])
    app.addSchema(schema);

  const refused = metrics && ((policy: string) => metrics.rateLimited.inc({ policy }));
  const policies = limitPolicies(config);
  const limit = (policy: RouteLimit) => limitRoute(services.counter, policy, refused);
  const { requireAuth, stepUp } = services;

  const site = createSite({
    posts: services.posts,
    comments: services.comments,
    site: { title: config.siteTitle, description: config.siteDescription, url: config.appUrl },
  });
  await app.register(metaRoutes, {
    database: parts.database,
    metrics,
    metricsToken: config.metricsToken,
    fanOutUp: parts.fanOutUp,
    home: async (request, reply) =>
      sendSiteAnswer(request, reply, await site.home((request.query as { cursor?: string }).cursor)),
  });
  await app.register(siteRoutes, { site });
  await app.register(tokenRoutes, { endpoint: services.tokenEndpoint });
  await app.register(metadataRoutes, { issuer: config.issuer, passwordGrant: config.passwordGrant });
  await app.register(jwksRoutes, { keys: parts.keys });
  await app.register(clientRoutes, { clients: services.clients, requireAuth });
  await app.register(authorizationRoutes, { authorizations: services.authorizations, requireAuth });
  await app.register(authorizeRoutes, {
    authorization: services.authorization,
    secure: config.issuer.startsWith('https:'),
    loginSessionTtlSeconds: config.loginSessionTtlSeconds,
    issuer: config.issuer,
    passkeyLimit: limit(policies.passkeyOptions),
  });
  await app.register(accountsRoutes, {
    accounts: services.accounts,
    requireAuth,
    stepUp,
    signupLimit: limit(policies.signup),
    emailChangeLimit: limit(policies.emailChange),
  });
  await app.register(adminRoutes, { accounts: services.admin, requireAuth });
  await app.register(recoveryRoutes, {
    recovery: services.recovery,
    requireAuth,
    mailLimit: limit(policies.mail),
  });
  await app.register(sessionRoutes, {
    sessions: services.sessions,
    requireAuth,
    clientName: async (clientId) => (await services.clients.find(clientId))?.name,
  });
  await app.register(mfaRoutes, { mfa: services.mfa, requireAuth, stepUp });
  await app.register(passkeyRoutes, { passkeys: services.passkeys, requireAuth, stepUp });
  await app.register(personalTokenRoutes, {
    tokens: services.personalTokens,
    requireAuth,
    stepUp,
    writeLimit: limit(policies.writes),
  });
  await app.register(auditRoutes, { audit: services.auditLog, requireAuth });
  const { optionalAuth } = services;
  await app.register(postsRoutes, {
    posts: services.posts,
    requireAuth,
    optionalAuth,
    writeLimit: limit(policies.writes),
  });
  await app.register(authorsRoutes, { posts: services.posts, requireAuth, optionalAuth });
  // The RealWorld API (its adapter over the same services), only with REALWORLD_API=on.
  if (config.realworldApi)
    await app.register(realWorldRoutes, {
      posts: services.posts,
      comments: services.comments,
      accounts: services.accounts,
      users: createRealWorldUsers({
        accounts: services.accounts,
        login: services.login,
        sessions: services.sessions,
        signer: services.realworldTokens,
      }),
      requireAuth: services.realworldAuth.required,
      optionalAuth: services.realworldAuth.optional,
      signupLimit: limit(policies.signup),
      commentLimit: limit(policies.comments),
    });
  await app.register(commentsRoutes, {
    comments: services.comments,
    requireAuth,
    optionalAuth,
    commentLimit: limit(policies.comments),
  });
}
