import { randomBytes } from 'node:crypto';
import { describe, type TestContext } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { createUsersRepository } from '../../src/accounts/repository.ts';
import type { Role } from '../../src/accounts/roles.ts';
import { createAccountsService } from '../../src/accounts/service.ts';
import { buildApp } from '../../src/app.ts';
import { type KeyRing, loadKeyRing } from '../../src/auth/keys.ts';
import { hashPassword } from '../../src/auth/passwords.ts';
import type { LoginThrottle } from '../../src/auth/throttle.ts';
import { type Clock, createManualClock } from '../../src/clock.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { type OpenDatabase, openDatabase } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';

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
 * A fresh, migrated database: a private in-memory SQLite, or a private schema in TEST_DATABASE_URL's
 * PostgreSQL, dropped afterwards.
 */
export async function openTestDatabase(t: TestContext, engine: EngineName = 'sqlite'): Promise<OpenDatabase> {
  let database: OpenDatabase;
  if (engine === 'sqlite') {
    database = openDatabase('sqlite::memory:');
    t.after(() => database.close());
  } else {
    const base = process.env.TEST_DATABASE_URL;
    if (!base) throw new Error('TEST_DATABASE_URL is not set');
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    const url = new URL(base);
    url.searchParams.set('options', `-c search_path=${schema}`);
    database = openDatabase(url.toString());
    t.after(async () => {
      await database.close();
      const cleanup = new pg.Client({ connectionString: base });
      await cleanup.connect();
      await cleanup.query(`drop schema ${schema} cascade`);
      await cleanup.end();
    });
  }
  await migrateToLatest(database.db);
  return database;
}

export interface TestApp {
  readonly app: FastifyInstance;
  readonly database: OpenDatabase;
  readonly config: Config;
  readonly keys: KeyRing;
  readonly clock: ReturnType<typeof createManualClock>;
}

export const TEST_SECRET = 'test-secret-that-is-at-least-32-bytes-long!';

export async function buildTestApp(
  t: TestContext,
  options: {
    engine?: EngineName;
    env?: Record<string, string>;
    clock?: ReturnType<typeof createManualClock>;
    throttle?: LoginThrottle;
    logger?: Parameters<typeof buildApp>[0]['logger'];
  } = {},
): Promise<TestApp> {
  const config = loadConfig({ ISSUER: 'http://inkgate.test', ...options.env });
  const database = await openTestDatabase(t, options.engine);
  const clock = options.clock ?? createManualClock(new Date());
  const keys = await loadKeyRing({ db: database.db, clock, secret: config.jwtSecret });
  const app = await buildApp({
    config,
    database,
    keys,
    clock,
    throttle: options.throttle,
    logger: options.logger,
  });
  t.after(() => app.close());
  return { app, database, config, keys, clock };
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
    const accounts = createAccountsService({
      users: createUsersRepository(testApp.database.db),
      clock: testApp.clock as Clock,
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
