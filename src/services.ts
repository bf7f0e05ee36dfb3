import type { FastifyBaseLogger } from 'fastify';
import { createAdminAccounts } from './accounts/admin.ts';
import { createAccountCreation } from './accounts/creation.ts';
import { createHasher, createHashQueue, type HashQueue } from './accounts/hash-queue.ts';
import { createUsersRepository, type UserRemoval } from './accounts/repository.ts';
import { createAccountsService } from './accounts/service.ts';
import { createAuditRepository } from './audit/repository.ts';
import { createAuditService } from './audit/service.ts';
import { type AuditTrail, createAuditTrail } from './audit/trail.ts';
import type { Clock } from './clock.ts';
import { createCommentsRepository } from './comments/repository.ts';
import { createCommentsService } from './comments/service.ts';
import type { Config } from './config.ts';
import { createChangeFeed } from './db/change-feed.ts';
import { feedErrorLogger } from './db/change-watch.ts';
import type { OpenDatabase } from './db/database.ts';
import { createFormTokens } from './html/forms.ts';
import type { Metrics } from './http/metrics.ts';
import { createWindowCounter } from './http/rate-limits.ts';
import { createKeyCipher } from './keys/key-encryption.ts';
import type { KeyRing } from './keys/key-ring.ts';
import { createServerSecrets } from './keys/server-secrets.ts';
import { createDevices } from './login/devices.ts';
import { createLoginService } from './login/service.ts';
import { createMemoryLoginThrottle, createRedisLoginThrottle, type LoginThrottle } from './login/throttle.ts';
import { createOutbox } from './mail/outbox.ts';
import { directoryTransport, type MailTransport, smtpTransport } from './mail/transport.ts';
import { createPasskeys } from './mfa/passkeys.ts';
import { createPasskeysRepository } from './mfa/passkeys-repository.ts';
import { createMfaRepository } from './mfa/repository.ts';
import { createMfa } from './mfa/service.ts';
import { createAuthorizations } from './oauth/authorizations.ts';
import { createAuthorization } from './oauth/authorize.ts';
import { createClientsRepository } from './oauth/clients/repository.ts';
import { createClientsService } from './oauth/clients/service.ts';
import { createCodeGrant } from './oauth/code-grant.ts';
import { createAuthorizationCodes } from './oauth/codes.ts';
import { createConsents } from './oauth/consents.ts';
import { createTokenEndpoint } from './oauth/grants.ts';
import { createPendingSignIns } from './oauth/pending-sign-ins.ts';
import { hashOfKey, keyOfPersonalToken, PERSONAL_TOKEN_PREFIX } from './personal-tokens/format.ts';
import { createPersonalTokensRepository } from './personal-tokens/repository.ts';
import { createPersonalTokens, personalTokenStateLoader } from './personal-tokens/service.ts';
import { createPostsRepository } from './posts/repository.ts';
import { type ContentFeed, createPostsService } from './posts/service.ts';
import { REALWORLD_CLIENT_ID } from './realworld/mapping.ts';
import { createRecoveryService } from './recovery/service.ts';
import { createAccountTokens } from './recovery/tokens.ts';
import type { SharedRedis } from './redis/shared-redis.ts';
import { createAccessTokens } from './sessions/access-tokens.ts';
import { createSessionCache, type SessionCache, type SessionFeed } from './sessions/cache.ts';
import { createGuard } from './sessions/guard.ts';
import { createSessionsRepository } from './sessions/repository.ts';
import { createSessionsService, sessionStateLoader } from './sessions/service.ts';

/** What the services are made of: the process's parts (main.ts) and what tests swap in. */
export interface ServiceParts {
  readonly config: Config;
  readonly database: OpenDatabase;
  readonly keys: KeyRing;
  readonly clock: Clock;
  readonly logger: FastifyBaseLogger | undefined;
  readonly metrics: Metrics | undefined;
  /** Shared Redis (REDIS_URL): counters, failed-login counts and revocation fan-out across instances. */
  readonly redis: SharedRedis | undefined;
  /** The audit trail main.ts shares with start-up work (first admin, keys); by default the app's own. */
  readonly audit?: AuditTrail | undefined;
  readonly throttle?: LoginThrottle | undefined;
  readonly sessionCache?: SessionCache | undefined;
  /** The session cache's change feed; by default the database's. */
  readonly sessionFeed?: SessionFeed | undefined;
  /** The public caches' change feed (lists and pages); by default the database's. */
  readonly contentFeed?: ContentFeed | undefined;
  readonly hashQueue?: HashQueue | undefined;
  /** Where mail goes; by default SMTP_URL's server, or .eml files in MAIL_DIR without it. */
  readonly mailTransport?: MailTransport | undefined;
  readonly mailPollMs?: number | undefined;
}

export type Services = ReturnType<typeof createServices>;

/**
 * Every service of the application, wired once, in the order the domains depend on each other: each
 * is built from parts that already exist, with every dependency it needs.
 */
export function createServices(parts: ServiceParts) {
  const { config, database, keys, clock, metrics, redis } = parts;
  const log = parts.logger;
  const verificationRequired = config.emailVerification === 'required';
  const cipher = createKeyCipher(config.keyEncryptionKey);
  const secrets = createServerSecrets(database.db, cipher, clock);
  const counter = createWindowCounter(redis, clock);

  const audit = parts.audit ?? createAuditTrail({ db: database.db, clock, log });
  const posts = createPostsService({
    posts: createPostsRepository(database.db),
    clock,
    feed: parts.contentFeed ?? createChangeFeed(database.db, 'content_changes'),
    onFeedError: feedErrorLogger(
      log,
      'the content change feed cannot be read: each kept list and page is read again after 1 s',
    ),
  });
  const comments = createCommentsService({
    comments: createCommentsRepository(database.db, posts),
    posts,
    audit,
    clock,
    mode: config.comments,
  });
  // A deleted user's favourites and comments leave the counts of other posts and tags, in the
  // deletion's transaction; the lists that showed them are emptied after it.
  const userRemoval: UserRemoval = {
    before: async (trx, userId) => {
      await comments.forgetUser(trx, userId);
      await posts.forgetUser(trx, userId);
    },
    after: posts.changed,
  };

  const users = createUsersRepository(database.db, userRemoval);
  const hashQueue =
    parts.hashQueue ??
    createHashQueue({
      concurrency: config.hashConcurrency,
      maxWaiting: config.hashQueue,
      share: config.hashShare,
      onWait: metrics && ((seconds) => metrics.hashWaitSeconds.observe(seconds)),
    });
  if (metrics) metrics.hashQueueState = () => ({ running: hashQueue.running, waiting: hashQueue.waiting });
  const hasher = createHasher(hashQueue);

  const lookups = (cache: 'token' | 'session') => {
    if (!metrics) return undefined;
    const counts = metrics.cacheLookups[cache];
    return (hit: boolean) => {
      if (hit) counts.hit += 1;
      else counts.miss += 1;
    };
  };
  const tokens = createAccessTokens({
    keys,
    clock,
    issuer: config.issuer,
    audience: config.audience,
    clientId: config.clientId,
    ttlSeconds: config.accessTokenTtlSeconds,
    onLookup: lookups('token'),
  });
  const sessionsRepository = createSessionsRepository(database.db);
  const sessionState = sessionStateLoader(sessionsRepository, config.sessionIdleSeconds);
  const personalTokensRepository = createPersonalTokensRepository(database.db);
  const personalTokenState = personalTokenStateLoader(personalTokensRepository, clock);
  // Personal tokens live in the same cache as sessions (their keys are never UUIDs), so that every
  // revocation, disable and role change reaches both within the same bound.
  const sessionCache =
    parts.sessionCache ??
    createSessionCache({
      load: (key) => (hashOfKey(key) === undefined ? sessionState(key) : personalTokenState(key)),
      clock,
      redis,
      feed: parts.sessionFeed ?? createChangeFeed(database.db, 'session_changes'),
      onFeedError: feedErrorLogger(
        log,
        'the session change feed cannot be read: each cached session is read again after 1 s',
      ),
      onLookup: lookups('session'),
    });
  if (metrics) {
    metrics.sessionFeedAgeMs = () => sessionCache.feedAgeMs();
    metrics.contentFeedAgeMs = () => posts.feedAgeMs();
  }
  const sessions = createSessionsService({
    repository: sessionsRepository,
    successorKey: () => secrets.key('refresh_token_successor_key'),
    tokens,
    cache: sessionCache,
    clock,
    audit,
    metrics,
    refreshTtlSeconds: config.refreshTokenTtlSeconds,
    firstPartyClientId: config.clientId,
    idleSeconds: config.sessionIdleSeconds,
    verificationRequired,
  });
  const personalTokens = createPersonalTokens({
    repository: personalTokensRepository,
    cache: sessionCache,
    audit,
    clock,
    firstPartyClientId: config.clientId,
    sessionStandsIn: sessionsRepository.standsIn,
  });
  const guard = createGuard({
    tokens,
    sessions: sessionCache,
    clock,
    verificationRequired,
    personalTokens: { prefix: PERSONAL_TOKEN_PREFIX, keyOf: keyOfPersonalToken },
    mfaRequired: config.mfaRequired,
    stepUpMaxAgeSeconds: config.stepUpMaxAgeSeconds,
  });

  // The RealWorld API's tokens (REALWORLD_API): the client `realworld`, an audience of their own (no
  // native route takes them, and its guard takes no native token), REALWORLD_TOKEN_TTL; sessions like
  // any other, so they are listed, revoked and ended by a password change.
  const realworldTokens = createAccessTokens({
    keys,
    clock,
    issuer: config.issuer,
    audience: `${config.audience}:${REALWORLD_CLIENT_ID}`,
    clientId: REALWORLD_CLIENT_ID,
    ttlSeconds: config.realworldTokenTtlSeconds,
    onLookup: lookups('token'),
  });
  const realworldGuard = createGuard({
    tokens: realworldTokens,
    sessions: sessionCache,
    clock,
    verificationRequired,
    schemes: ['token', 'bearer'],
  });

  const throttle =
    parts.throttle ?? (redis ? createRedisLoginThrottle(redis, clock) : createMemoryLoginThrottle(clock));
  const devices = createDevices({ db: database.db, clock, key: () => secrets.key('device_cookie_key') });
  const login = createLoginService({
    users,
    throttle,
    devices,
    hasher,
    audit,
    clock,
    metrics,
    counter,
    loginsPerHour: config.rateLimitLogins,
  });
  const outbox = createOutbox({
    db: database.db,
    clock,
    cipher,
    transport:
      parts.mailTransport ??
      (config.smtpUrl ? smtpTransport(config.smtpUrl) : directoryTransport(config.mailDir)),
    from: config.mailFrom,
    log,
    pollMs: parts.mailPollMs,
  });
  const recovery = createRecoveryService({
    users,
    tokens: createAccountTokens(database.db),
    outbox,
    audit,
    clock,
    hash: hasher.hash,
    sessions,
    personalTokens,
    counter,
    appUrl: config.appUrl,
    resetTtlSeconds: config.passwordResetTtlSeconds,
    verificationTtlSeconds: config.emailVerificationTtlSeconds,
    mailPerHour: config.rateLimitMail,
    log,
  });

  const mfa = createMfa({
    repository: createMfaRepository(database.db),
    users,
    cipher,
    audit,
    clock,
    mail: recovery.mail,
    sessions,
    issuerName: new URL(config.issuer).host,
    mfaRequired: config.mfaRequired,
  });

  const passkeys = createPasskeys({
    repository: createPasskeysRepository(database.db),
    users,
    audit,
    clock,
    mail: recovery.mail,
    sessions,
    appUrl: config.appUrl,
  });

  const clients = createClientsService({
    repository: createClientsRepository(database.db),
    sessions,
    audit,
    clock,
    firstParty: { clientId: config.clientId, redirectUris: config.firstPartyRedirectUris },
  });
  const codes = createAuthorizationCodes(database.db, clock);
  const tokenEndpoint = createTokenEndpoint({
    login,
    sessions,
    clients,
    codeGrant: createCodeGrant({ codes, sessions, users, audit, clock }),
    audit,
    metrics,
    firstPartyClientId: config.clientId,
    passwordGrant: config.passwordGrant,
  });
  const consents = createConsents(database.db, clock);
  const authorizations = createAuthorizations({ consents, clients, sessions, audit });
  const authorization = createAuthorization({
    clients,
    sessions,
    login,
    users,
    mfa,
    passkeys,
    pending: createPendingSignIns(database.db, clock),
    codes,
    consents,
    forms: createFormTokens({ key: () => secrets.key('form_token_key'), clock }),
    audit,
    clock,
    issuer: config.issuer,
    loginSessionTtlSeconds: config.loginSessionTtlSeconds,
    stepUpMaxAgeSeconds: config.stepUpMaxAgeSeconds,
    metrics,
  });

  const creation = createAccountCreation({ users, clock, audit, hash: hasher.hash });
  const accounts = createAccountsService({
    users,
    clock,
    audit,
    creation,
    hash: hasher.hash,
    verify: hasher.verify,
    sessions,
    passwordAttempts: throttle,
    mail: recovery.mail,
    verificationRequired,
  });
  const admin = createAdminAccounts({
    users,
    clock,
    audit,
    sessions,
    personalTokens,
    mail: recovery.mail,
  });
  const auditLog = createAuditService({ repository: createAuditRepository(database.db), trail: audit });

  return {
    audit,
    auditLog,
    counter,
    tokens,
    sessionCache,
    sessions,
    personalTokens,
    requireAuth: guard.requireAuth,
    optionalAuth: guard.optionalAuth,
    realworldTokens,
    login,
    realworldAuth: { required: realworldGuard.requireAuth, optional: realworldGuard.optionalAuth },
    stepUp: guard.stepUp,
    mfa,
    passkeys,
    tokenEndpoint,
    clients,
    authorization,
    authorizations,
    outbox,
    recovery,
    accounts,
    admin,
    posts,
    comments,
  };
}
