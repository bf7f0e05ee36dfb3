import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { createAccountCreation } from '../../src/accounts/creation.ts';
import type { HashQueue } from '../../src/accounts/hash-queue.ts';
import { hashPassword } from '../../src/accounts/passwords.ts';
import { createUsersRepository } from '../../src/accounts/repository.ts';
import { buildApp } from '../../src/app.ts';
import { createAuditTrail } from '../../src/audit/trail.ts';
import type { Role } from '../../src/authz/roles.ts';
import { type Clock, createManualClock } from '../../src/clock.ts';
import { type Config, keySettings, loadConfig } from '../../src/config.ts';
import type { ChangeFeed } from '../../src/db/change-feed.ts';
import { type OpenDatabase, openDatabase } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { createLogger } from '../../src/http/logging.ts';
import { type KeyRing, loadKeyRing } from '../../src/keys/key-ring.ts';
import type { LoginThrottle } from '../../src/login/throttle.ts';
import type { ContentFeed } from '../../src/posts/service.ts';
import { connectRedis, type SharedRedis } from '../../src/redis/shared-redis.ts';
import type { SessionFeed } from '../../src/sessions/cache.ts';

export type EngineName = 'sqlite' | 'postgres';

/** SQLite always; PostgreSQL too when TEST_DATABASE_URL is set (CI sets it). */
export function engines(): EngineName[] {
  return process.env.TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
}

/** Runs a suite once per available engine, the way Kysely's own tests loop over dialects. */
export function describeEachEngine(name: string, suite: (engine: EngineName) => void): void {
  for (const engine of engines()) describe(`${name} [${engine}]`, () => suite(engine));
}

/**
 * A fresh, empty place to keep data: a file in a temp folder for SQLite (so that several connections,
 * like several instances, can share it), or a private schema in TEST_DATABASE_URL's PostgreSQL. Both
 * are removed after the test. Returns the DATABASE_URL that reaches it.
 */
export async function createStorage(t: TestContext, engine: EngineName = 'sqlite'): Promise<string> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'inkgate-test-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    return `sqlite:${join(dir, 'test.db')}`;
  }
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set');
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  t.after(async () => {
    const cleanup = new pg.Client({ connectionString: base });
    await cleanup.connect();
    await cleanup.query(`drop schema ${schema} cascade`);
    await cleanup.end();
  });
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/**
 * A migrated database: by default a private in-memory SQLite or a fresh PostgreSQL schema; with `url`,
 * another connection to storage made by createStorage (a second instance). Closed after the test.
 */
export async function openTestDatabase(
  t: TestContext,
  engine: EngineName = 'sqlite',
  options: { url?: string; onQuery?: (sql: string) => void } = {},
): Promise<OpenDatabase> {
  const url = options.url ?? (engine === 'sqlite' ? 'sqlite::memory:' : await createStorage(t, engine));
  const database = openDatabase(url, { onQuery: options.onQuery });
  t.after(() => database.close());
  // Kysely's migrator reads the catalog of every schema; another test file dropping its own schema at
  // that moment can fail that read ("schema … does not exist"). Only tests share a database this way.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await migrateToLatest(database.db);
      break;
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? '';
      if (attempt >= 3 || !/does not exist/.test(cause)) throw error;
    }
  }
  return database;
}

export interface TestApp {
  readonly app: FastifyInstance;
  readonly database: OpenDatabase;
  readonly config: Config;
  readonly keys: KeyRing;
  readonly clock: ReturnType<typeof createManualClock>;
}

/** A change feed that cannot be read (its database does not answer): the cache falls back to 1 s. */
export const unreadableFeed: ChangeFeed<never> = {
  look: () => Promise.reject(new Error('the change feed cannot be read (a test)')),
};

export const TEST_SECRET = 'test-secret-that-is-at-least-32-bytes-long!';

export async function buildTestApp(
  t: TestContext,
  options: {
    engine?: EngineName;
    env?: Record<string, string>;
    clock?: ReturnType<typeof createManualClock>;
    throttle?: LoginThrottle;
    logger?: Parameters<typeof buildApp>[0]['logger'];
    /** Share storage made by createStorage, as a second instance would. */
    url?: string;
    onQuery?: (sql: string) => void;
    redis?: SharedRedis;
    mailPollMs?: number;
    /** A hash queue the test holds places in (by default the app's own, from HASH_*). */
    hashQueue?: HashQueue;
    /** The session cache's change feed (by default the database's): a test makes it fail. */
    sessionFeed?: SessionFeed;
    /** The public caches' change feed (by default the database's): a test makes it fail. */
    contentFeed?: ContentFeed;
  } = {},
): Promise<TestApp> {
  // Tests make many users and posts from one address: the route limits and the hash queue's share per
  // address are raised unless a test sets them.
  // Mail goes to a folder of the test's own unless a test points SMTP_URL at its SMTP server.
  const mailDir = mkdtempSync(join(tmpdir(), 'inkgate-mail-'));
  t.after(() => rmSync(mailDir, { recursive: true, force: true }));
  const config = loadConfig({
    ISSUER: 'http://inkgate.test',
    RATE_LIMIT_SIGNUP: '100000',
    RATE_LIMIT_WRITES: '100000',
    RATE_LIMIT_MAIL: '100000',
    HASH_SHARE: '100000',
    MAIL_DIR: mailDir,
    ...options.env,
  });
  const database = await openTestDatabase(t, options.engine, { url: options.url, onQuery: options.onQuery });
  const clock = options.clock ?? createManualClock(new Date());
  const keys = await loadKeyRing({ db: database.db, clock, settings: keySettings(config) });
  const app = await buildApp({
    config,
    database,
    keys,
    clock,
    throttle: options.throttle,
    logger: options.logger,
    redis: options.redis,
    hashQueue: options.hashQueue,
    sessionFeed: options.sessionFeed,
    contentFeed: options.contentFeed,
    mailPollMs: options.mailPollMs ?? 100,
  });
  t.after(() => app.close());
  return { app, database, config, keys, clock };
}

/**
 * Two instances on one new database and one manual clock, both ready (reading their change feeds);
 * every query the second one sends is recorded in `queries`.
 */
export async function twoInstances(t: TestContext, engine: EngineName) {
  const url = await createStorage(t, engine);
  const clock = createManualClock(new Date());
  const queries: string[] = [];
  const a = await buildTestApp(t, { engine, url, clock });
  const b = await buildTestApp(t, { engine, url, clock, onQuery: (sql) => queries.push(sql) });
  await Promise.all([a.app.ready(), b.app.ready()]);
  return { a, b, clock, queries };
}

let counter = 0;
/** Unique enough across parallel test files, and valid as a username. */
export function uniqueName(prefix = 'user'): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}`;
}

export interface TestUser {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly password: string;
  readonly role: Role;
}

export async function createUser(
  testApp: TestApp,
  options: { role?: Role; username?: string; password?: string } = {},
): Promise<TestUser> {
  const username = options.username ?? uniqueName();
  const password = options.password ?? `pw-${randomBytes(9).toString('base64url')}`;
  const email = `${username.toLowerCase()}@example.com`;
  if (options.role === 'admin') {
    const accounts = createAccountCreation({
      users: createUsersRepository(testApp.database.db),
      clock: testApp.clock as Clock,
      audit: createAuditTrail({ db: testApp.database.db, clock: testApp.clock }),
      hash: hashPassword,
    });
    const row = await accounts.signup({ username, email, password, role: 'admin' });
    return { id: row.id, username, email, password, role: 'admin' };
  }
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/users',
    payload: { username, email, password },
  });
  if (response.statusCode !== 201) throw new Error(`signup failed: ${response.statusCode} ${response.body}`);
  return { id: response.json().id, username, email, password, role: 'user' };
}

export async function login(
  testApp: TestApp,
  user: TestUser,
  scope?: string,
): Promise<LightMyRequestResponse> {
  const form: Record<string, string> = {
    grant_type: 'password',
    username: user.username,
    password: user.password,
  };
  if (scope !== undefined) form.scope = scope;
  return testApp.app.inject({
    method: 'POST',
    url: '/token',
    payload: new URLSearchParams(form).toString(),
    headers: FORM,
  });
}

export async function tokenFor(testApp: TestApp, user: TestUser, scope?: string): Promise<string> {
  const response = await login(testApp, user, scope);
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  return response.json().access_token;
}

/** A user and a token for them. */
export async function signedIn(testApp: TestApp, options: { role?: Role; scope?: string } = {}) {
  const user = await createUser(testApp, options);
  return { user, token: await tokenFor(testApp, user, options.scope) };
}

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  scope: string;
  expires_in: number;
}

export async function loginPair(
  testApp: TestApp,
  user: TestUser,
  headers: Record<string, string> = {},
): Promise<TokenPair> {
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/token',
    headers: { ...FORM, ...headers },
    payload: new URLSearchParams({
      grant_type: 'password',
      username: user.username,
      password: user.password,
    }).toString(),
  });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  return response.json();
}

export function refresh(
  testApp: TestApp,
  refreshToken: string,
  scope?: string,
): Promise<LightMyRequestResponse> {
  const form: Record<string, string> = { grant_type: 'refresh_token', refresh_token: refreshToken };
  if (scope !== undefined) form.scope = scope;
  return testApp.app.inject({
    method: 'POST',
    url: '/token',
    headers: FORM,
    payload: new URLSearchParams(form).toString(),
  });
}

/** A logger that keeps every line it writes, for tests that read the logs. */
export function captureLogs(level = 'info') {
  const lines: string[] = [];
  const logger = createLogger(level, {
    write: (line: string) => lines.push(line),
  } as unknown as NodeJS.WritableStream);
  return { logger, lines };
}

/** A connection to TEST_REDIS_URL under a prefix of its own (so tests never meet), ready to use. */
export async function connectTestRedis(t: TestContext, prefix: string): Promise<SharedRedis> {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set');
  const redis = connectRedis(url, prefix, captureLogs().logger);
  t.after(async () => {
    // Leave nothing behind: the keys under this test's prefix go with it.
    const keys = await redis.client.keys(`${prefix}*`).catch(() => []);
    if (keys.length > 0) await redis.client.del(...keys).catch(() => 0);
    await redis.close();
  });
  await new Promise<void>((resolve) =>
    redis.available() ? resolve() : redis.client.once('ready', () => resolve()),
  );
  return redis;
}
