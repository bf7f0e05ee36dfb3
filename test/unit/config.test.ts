import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig, parseDuration } from '../../src/config.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return [...error.problems];
  }
  assert.fail('expected a ConfigError');
}

test('config: the defaults are what API.md says', () => {
  const config = loadConfig({});
  assert.equal(config.port, 8000);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.databaseUrl, 'sqlite:./data/inkgate.db');
  assert.equal(config.issuer, 'http://127.0.0.1:8000');
  assert.equal(config.audience, 'inkgate');
  assert.equal(config.jwtSecret, undefined);
  assert.equal(config.accessTokenTtlSeconds, 900);
  assert.equal(config.refreshTokenTtlSeconds, 30 * 86400);
  assert.equal(config.sessionIdleSeconds, 14 * 86400);
  assert.deepEqual(config.corsOrigins, []);
  assert.equal(config.trustProxy, false);
  assert.equal(config.metrics, true);
  assert.equal(config.admin, undefined);
  assert.ok(Object.isFrozen(config));
});

test('config: ISSUER follows HOST and PORT unless set, without a trailing slash', () => {
  assert.equal(loadConfig({ HOST: '0.0.0.0', PORT: '9000' }).issuer, 'http://0.0.0.0:9000');
  assert.equal(loadConfig({ HOST: '::1' }).issuer, 'http://[::1]:8000');
  assert.equal(loadConfig({ ISSUER: 'https://blog.example.com/' }).issuer, 'https://blog.example.com');
});

test('config: each bad variable is one line naming it, what is wrong and a good example', () => {
  const problems = problemsOf({
    PORT: 'eighty',
    DATABASE_URL: 'mysql://x',
    JWT_SECRET: 'short',
    ACCESS_TOKEN_TTL: 'forever',
    CORS_ORIGINS: 'https://ok.example,https://bad.example/path',
    METRICS: 'maybe',
    ISSUER: 'ftp://x',
    JWT_ALG: 'none',
  });
  const names = problems.map((line) => line.split(':')[0]);
  assert.deepEqual(names.sort(), [
    'ACCESS_TOKEN_TTL',
    'CORS_ORIGINS',
    'DATABASE_URL',
    'ISSUER',
    'JWT_ALG',
    'JWT_SECRET',
    'METRICS',
    'PORT',
  ]);
  for (const line of problems) assert.match(line, /^[A-Z_]+: .+, e\.g\. [A-Z_]+=.+$/);
});

test('config: production refuses to start without JWT_SECRET', () => {
  const problems = problemsOf({ NODE_ENV: 'production' });
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^JWT_SECRET: is required when NODE_ENV=production/);
  const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) });
  assert.equal(config.production, true);
});

test('config: JWT_SECRET counts UTF-8 bytes', () => {
  assert.equal(loadConfig({ JWT_SECRET: 'é'.repeat(16) }).jwtSecret, 'é'.repeat(16));
  assert.match(problemsOf({ JWT_SECRET: 'x'.repeat(31) })[0]!, /at least 32 bytes/);
});

test('config: the ADMIN_* variables go together', () => {
  const admin = loadConfig({
    ADMIN_USERNAME: 'root',
    ADMIN_EMAIL: 'root@example.com',
    ADMIN_PASSWORD: 'pw',
  }).admin;
  assert.deepEqual(admin, { username: 'root', email: 'root@example.com', password: 'pw' });
  const problems = problemsOf({ ADMIN_USERNAME: 'root' });
  assert.deepEqual(problems.map((line) => line.split(':')[0]).sort(), ['ADMIN_EMAIL', 'ADMIN_PASSWORD']);
});

test('config: TRUST_PROXY takes addresses and ranges', () => {
  assert.deepEqual(loadConfig({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' }).trustProxy, [
    '127.0.0.1',
    '10.0.0.0/8',
  ]);
  assert.equal(loadConfig({ TRUST_PROXY: 'off' }).trustProxy, false);
  assert.match(problemsOf({ TRUST_PROXY: 'everyone' })[0]!, /^TRUST_PROXY/);
});

test('config: sessions last at most 30 days; the idle limit is whole days', () => {
  assert.equal(
    loadConfig({ REFRESH_TOKEN_TTL: '7d', SESSION_IDLE_DAYS: '3' }).refreshTokenTtlSeconds,
    7 * 86400,
  );
  assert.equal(loadConfig({ SESSION_IDLE_DAYS: '3' }).sessionIdleSeconds, 3 * 86400);
  assert.match(
    problemsOf({ REFRESH_TOKEN_TTL: '31d' })[0]!,
    /^REFRESH_TOKEN_TTL: "31d" is not a duration from 1m to 30d/,
  );
  assert.match(problemsOf({ SESSION_IDLE_DAYS: '0' })[0]!, /^SESSION_IDLE_DAYS/);
  assert.match(problemsOf({ SESSION_IDLE_DAYS: '1.5' })[0]!, /^SESSION_IDLE_DAYS/);
});

test('parseDuration: seconds or a unit', () => {
  assert.equal(parseDuration('900'), 900);
  assert.equal(parseDuration('15m'), 900);
  assert.equal(parseDuration('2h'), 7200);
  assert.equal(parseDuration('30d'), 2_592_000);
  assert.equal(parseDuration('0'), undefined);
  assert.equal(parseDuration('-5'), undefined);
  assert.equal(parseDuration('1.5h'), undefined);
  assert.equal(parseDuration('15 minutes'), undefined);
});
