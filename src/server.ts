import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import packageJson from '../package.json' with { type: 'json' };
import { createAccountCreation } from './accounts/creation.ts';
import { hashPassword } from './accounts/passwords.ts';
import { createUsersRepository } from './accounts/repository.ts';
import { buildApp } from './app.ts';
import { createAuditRepository } from './audit/repository.ts';
import { type AuditTrail, createAuditTrail } from './audit/trail.ts';
import { DAY_MS, HOUR_MS, systemClock } from './clock.ts';
import { createCommentsRepository } from './comments/repository.ts';
import { renderStaleComments } from './comments/service.ts';
import { type Config, ConfigError, keySettings, loadConfig } from './config.ts';
import { purgeChanges } from './db/change-feed.ts';
import { type OpenDatabase, openDatabase } from './db/database.ts';
import { isConnectionError } from './db/errors.ts';
import { migrateToLatest } from './db/migrate.ts';
import { type ScheduledJob, startScheduledJobs } from './db/scheduled-jobs.ts';
import { createLogger } from './http/logging.ts';
import { KeyEncryptionError } from './keys/key-encryption.ts';
import { loadKeyRing } from './keys/key-ring.ts';
import { keyRotationJob } from './keys/stored-keys.ts';
import { purgeLoginAddresses } from './login/devices.ts';
import { purgeOutbox } from './mail/outbox.ts';
import { createPasskeysRepository } from './mfa/passkeys-repository.ts';
import { purgeAuthorizationCodes } from './oauth/codes.ts';
import { createPendingSignIns } from './oauth/pending-sign-ins.ts';
import { createPersonalTokensRepository } from './personal-tokens/repository.ts';
import { createPostsRepository } from './posts/repository.ts';
import { createPostsService } from './posts/service.ts';
import { createAccountTokens } from './recovery/tokens.ts';
import { connectRedis } from './redis/shared-redis.ts';
import { createSessionsRepository } from './sessions/repository.ts';

const VERSION: string = packageJson.version;

/**
 * Why the server could not start, in one line for a person: the database that does not answer (and
 * which), or the error's own message, following its causes (a failed migration names its cause).
 */
export function startFailure(error: unknown, databaseUrl: string): string {
  const chain: unknown[] = [];
  for (let cause: unknown = error; cause !== undefined && chain.length < 5; ) {
    chain.push(cause);
    cause = (cause as { cause?: unknown }).cause;
  }
  const sealed = chain.find((each) => each instanceof KeyEncryptionError);
  if (sealed) return (sealed as KeyEncryptionError).reason;
  const unreachable = chain.find(isConnectionError) as { code?: string; message?: string } | undefined;
  if (unreachable) {
    let where = 'the database';
    if (URL.canParse(databaseUrl)) {
      const url = new URL(databaseUrl);
      where = `the database at ${url.hostname}:${url.port || '5432'}`;
    }
    return `${where} does not answer (${unreachable.code ?? unreachable.message}): check DATABASE_URL and that the server runs`;
  }
  const messages = chain.map((each) => (each instanceof Error ? each.message : String(each)));
  return messages.join(': ').replace(/\s+/g, ' ').slice(0, 500);
}

/** Reads `.env` (when present) into process.env without overriding what is already set, then validates. */
export function configFromEnvironment(): Config {
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.problems) process.stderr.write(`inkgate: configuration error: ${line}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** Opens the configured database and applies pending migrations. */
export async function openMigratedDatabase(config: Config, log: Logger): Promise<OpenDatabase> {
  const database = openDatabase(config.databaseUrl);
  try {
    const applied = await migrateToLatest(database.db);
    if (applied.length > 0) log.info({ migrations: applied }, 'migrations applied');
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

/** What runs on a schedule, once across all instances sharing the database. */
export function scheduledJobs(config: Config, database: OpenDatabase, trail: AuditTrail): ScheduledJob[] {
  const sessions = createSessionsRepository(database.db);
  const audit = createAuditRepository(database.db);
  const rotation = keyRotationJob(database.db, keySettings(config), trail);
  const postsRepository = createPostsRepository(database.db);
  const blog = createPostsService({ posts: postsRepository, clock: systemClock });
  const comments = createCommentsRepository(database.db, postsRepository);
  return [
    ...(rotation ? [rotation] : []),
    {
      name: 'purge-sessions',
      everyMs: HOUR_MS,
      run: async (now) => ({
        ...(await sessions.purge(now, config.sessionIdleSeconds)),
        sessionChanges: await purgeChanges(database.db, 'session_changes'),
        contentChanges: await purgeChanges(database.db, 'content_changes'),
        loginAddresses: await purgeLoginAddresses(database.db, now),
        accountTokens: await createAccountTokens(database.db).purge(now),
        mail: await purgeOutbox(database.db, now),
        authorizationCodes: await purgeAuthorizationCodes(database.db, now),
        personalTokens: await createPersonalTokensRepository(database.db).purge(now),
        pendingSignIns: await createPendingSignIns(database.db, systemClock).purge(now),
        webauthnChallenges: await createPasskeysRepository(database.db).purgeChallenges(now),
      }),
    },
    {
      name: 'purge-audit-events',
      everyMs: HOUR_MS,
      run: async (now) => ({
        auditEvents: await audit.purge(new Date(now.getTime() - config.auditRetentionDays * DAY_MS)),
      }),
    },
    // A scheduled post is published at its time, within these ten seconds, with no request needed.
    { name: 'publish-scheduled-posts', everyMs: 10_000, run: (now) => blog.publishDue(now) },
    // HTML made by an older renderer (after an upgrade) is made again, a batch a minute.
    {
      name: 'render-stale-posts',
      everyMs: 60_000,
      run: async () => ({ ...(await blog.renderStale()), ...(await renderStaleComments(comments)) }),
    },
  ];
}

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly database: OpenDatabase;
  /** Stops taking connections, lets in-flight requests finish, then closes the database. */
  stop(): Promise<void>;
}

export async function startServer(
  config: Config,
  log: Logger = createLogger(config.logLevel),
): Promise<RunningServer> {
  for (const warning of config.warnings) log.warn(`configuration: ${warning}`);
  const database = await openMigratedDatabase(config, log);
  const audit = createAuditTrail({ db: database.db, clock: systemClock, log });
  const keys = await loadKeyRing({
    db: database.db,
    clock: systemClock,
    settings: keySettings(config),
    audit,
  });
  if (config.admin) {
    const accounts = createAccountCreation({
      users: createUsersRepository(database.db),
      clock: systemClock,
      audit,
      hash: hashPassword,
    });
    const admin = await accounts.ensureAdmin(config.admin);
    if (admin)
      log.info({ userId: admin.id, username: admin.username }, 'first admin created from ADMIN_* settings');
  }
  if (config.production && config.metricsToken === undefined) {
    log.info('/metrics is off: in production it is served only with METRICS_TOKEN set');
  }
  const redis = config.redisUrl ? connectRedis(config.redisUrl, config.redisPrefix, log) : undefined;
  const app = await buildApp({ config, database, keys, redis, audit, logger: log, version: VERSION });
  await app.listen({ port: config.port, host: config.host });
  const jobs = startScheduledJobs({
    db: database.db,
    clock: systemClock,
    log,
    jobs: scheduledJobs(config, database, audit),
  });
  return {
    app,
    database,
    stop: async () => {
      await jobs.stop();
      await app.close();
      await redis?.close();
      await database.close();
    },
  };
}
