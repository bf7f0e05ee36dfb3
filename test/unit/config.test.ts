import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ConfigError, loadConfig, nearMisses, parseDuration, VARIABLES } from '../../src/config.ts';

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

test('config: a bad PORT is blamed once, on PORT; a default ISSUER beside PostgreSQL is a warning', () => {
  const problems = problemsOf({ PORT: 'abc' });
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^PORT: /);
  assert.match(
    loadConfig({ DATABASE_URL: 'postgres://db.example.com/inkgate' }).warnings.join('\n'),
    /^ISSUER is not set: tokens name http:\/\/127\.0\.0\.1:8000, which other instances sharing this PostgreSQL database refuse/,
  );
  assert.deepEqual(
    loadConfig({ DATABASE_URL: 'postgres://db/x', ISSUER: 'https://api.example.com' }).warnings,
    [],
  );
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

const KEK = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

test('config: production refuses to start without ISSUER, JWT_SECRET or KEY_ENCRYPTION_KEY [RFC8725 §3.5] [RFC8725 §3.8] [API8:2023]', () => {
  const problems = problemsOf({ NODE_ENV: 'production' });
  assert.equal(problems.length, 3);
  assert.match(problems[0]!, /^ISSUER: is required when NODE_ENV=production/);
  assert.match(problems[1]!, /^JWT_SECRET: is required when NODE_ENV=production/);
  assert.match(problems[2]!, /^KEY_ENCRYPTION_KEY: is required when NODE_ENV=production/);
  const config = loadConfig({
    NODE_ENV: 'production',
    ISSUER: 'https://api.example.com',
    JWT_SECRET: 'x'.repeat(32),
    KEY_ENCRYPTION_KEY: KEK,
  });
  assert.equal(config.production, true);
  assert.deepEqual(
    [...config.keyEncryptionKey!],
    Array.from({ length: 32 }, (_, i) => i),
  );
});

test('config: KEY_ENCRYPTION_KEY must be 32 bytes of base64', () => {
  for (const bad of [
    'short',
    Buffer.alloc(31).toString('base64'),
    Buffer.alloc(33).toString('base64'),
    `${KEK}!`,
  ]) {
    assert.match(
      problemsOf({ KEY_ENCRYPTION_KEY: bad })[0]!,
      /^KEY_ENCRYPTION_KEY: must be 32 bytes in base64, e\.g\./,
      bad,
    );
  }
});

test('config: REQUEST_TIMEOUT and METRICS_TOKEN', () => {
  assert.equal(loadConfig({}).requestTimeoutSeconds, 30);
  assert.equal(loadConfig({ REQUEST_TIMEOUT: '5' }).requestTimeoutSeconds, 5);
  for (const bad of ['0', '3601', '1.5', 'abc'])
    assert.match(problemsOf({ REQUEST_TIMEOUT: bad })[0]!, /^REQUEST_TIMEOUT: /);
  assert.match(problemsOf({ METRICS_TOKEN: 'short' })[0]!, /^METRICS_TOKEN: must be at least 16 bytes/);
  const production = {
    NODE_ENV: 'production',
    ISSUER: 'https://api.example.com',
    JWT_SECRET: 'x'.repeat(32),
    KEY_ENCRYPTION_KEY: KEK,
  };
  assert.equal(loadConfig(production).metrics, false, 'production without METRICS_TOKEN: off');
  assert.equal(loadConfig({ ...production, METRICS_TOKEN: 'm'.repeat(16) }).metrics, true);
});

test('config: CLIENT_ID names the first-party client [RFC9068 §2.2] [RFC9700 §2.4] [ASVS V10.4.4]', () => {
  assert.equal(loadConfig({}).clientId, 'inkgate');
  assert.equal(loadConfig({ CLIENT_ID: 'blog-web' }).clientId, 'blog-web');
  assert.match(problemsOf({ CLIENT_ID: 'has space' })[0]!, /^CLIENT_ID: /);
});

test('config: AUDIT_RETENTION_DAYS', () => {
  assert.equal(loadConfig({}).auditRetentionDays, 90);
  assert.equal(loadConfig({ AUDIT_RETENTION_DAYS: '7' }).auditRetentionDays, 7);
  for (const bad of ['0', '-1', '2.5', 'forever'])
    assert.match(problemsOf({ AUDIT_RETENTION_DAYS: bad })[0]!, /^AUDIT_RETENTION_DAYS: /);
});

test('config: mail and account recovery settings', () => {
  const defaults = loadConfig({ ISSUER: 'https://api.example.com' });
  assert.equal(defaults.smtpUrl, undefined);
  assert.equal(defaults.mailFrom, 'inkgate <no-reply@localhost>');
  assert.equal(defaults.mailDir, './data/mail/');
  assert.equal(defaults.appUrl, 'https://api.example.com', 'APP_URL defaults to ISSUER');
  assert.equal(defaults.emailVerification, 'optional');
  assert.equal(defaults.passwordResetTtlSeconds, 1800);
  assert.equal(defaults.emailVerificationTtlSeconds, 86400);
  assert.equal(defaults.rateLimitMail, 5);
  assert.deepEqual(defaults.warnings, []);
  const set = loadConfig({
    SMTP_URL: 'smtp://user:pass@mail.example.com:587',
    APP_URL: 'https://blog.example.com/',
    EMAIL_VERIFICATION: 'required',
    PASSWORD_RESET_TTL: '10m',
    EMAIL_VERIFICATION_TTL: '2h',
  });
  assert.equal(set.appUrl, 'https://blog.example.com');
  assert.equal(set.passwordResetTtlSeconds, 600);
  assert.equal(set.emailVerificationTtlSeconds, 7200);
  assert.match(loadConfig({ PASSWORD_RESET_TTL: '30' }).warnings[0]!, /^PASSWORD_RESET_TTL is 30 s/);
  for (const [name, bad] of [
    ['SMTP_URL', 'mail.example.com'],
    ['APP_URL', 'blog.example.com'],
    ['EMAIL_VERIFICATION', 'sometimes'],
    ['PASSWORD_RESET_TTL', '0'],
    ['EMAIL_VERIFICATION_TTL', 'forever'],
    ['MAIL_FROM', 'not an address'],
    ['RATE_LIMIT_MAIL', '0'],
  ] as const) {
    assert.match(problemsOf({ [name]: bad })[0]!, new RegExp(`^${name}: `), name);
  }
  const production = {
    NODE_ENV: 'production',
    ISSUER: 'https://api.example.com',
    JWT_SECRET: 'x'.repeat(32),
    KEY_ENCRYPTION_KEY: KEK,
  };
  assert.match(
    problemsOf({ ...production, ISSUER: 'https://api.example.com', EMAIL_VERIFICATION: 'required' })[0]!,
    /^SMTP_URL: is required when NODE_ENV=production and EMAIL_VERIFICATION=required/,
  );
  assert.equal(loadConfig({ ...production, EMAIL_VERIFICATION: 'optional' }).smtpUrl, undefined);
});

test('config: JWT_SECRET counts UTF-8 bytes [RFC8725 §3.5]', () => {
  assert.equal(loadConfig({ JWT_SECRET: 'é'.repeat(16) }).jwtSecret, 'é'.repeat(16));
  assert.match(problemsOf({ JWT_SECRET: 'x'.repeat(31) })[0]!, /at least 32 bytes/);
});

test('config: the ADMIN_* variables go together [ASVS V6.3.2]', () => {
  const admin = loadConfig({
    ADMIN_USERNAME: 'root',
    ADMIN_EMAIL: 'root@example.com',
    ADMIN_PASSWORD: 'a long admin passphrase',
  }).admin;
  assert.deepEqual(admin, {
    username: 'root',
    email: 'root@example.com',
    password: 'a long admin passphrase',
  });
  const problems = problemsOf({ ADMIN_USERNAME: 'root' });
  assert.deepEqual(problems.map((line) => line.split(':')[0]).sort(), ['ADMIN_EMAIL', 'ADMIN_PASSWORD']);
  assert.match(
    problems.find((line) => line.startsWith('ADMIN_PASSWORD'))!,
    /e\.g\. ADMIN_PASSWORD="a long passphrase of your own"$/,
  );
});

test('config: ADMIN_* follow signup’s rules, one line each (ADMIN_PASSWORD=admin is refused, not a crash) [ASVS V6.3.2]', () => {
  const ok = {
    ADMIN_USERNAME: 'root',
    ADMIN_EMAIL: 'root@example.com',
    ADMIN_PASSWORD: 'a long admin passphrase',
  };
  assert.match(
    problemsOf({ ...ok, ADMIN_PASSWORD: 'admin' })[0]!,
    /^ADMIN_PASSWORD: must be at least 8 characters, e\.g\. /,
  );
  assert.match(
    problemsOf({ ...ok, ADMIN_PASSWORD: 'password1' })[0]!,
    /^ADMIN_PASSWORD: is one of the most commonly used passwords/,
  );
  assert.match(problemsOf({ ...ok, ADMIN_USERNAME: 'has space' })[0]!, /^ADMIN_USERNAME: must be 3 to 32/);
  assert.match(problemsOf({ ...ok, ADMIN_EMAIL: 'nope' })[0]!, /^ADMIN_EMAIL: must be an email address/);
  for (const line of problemsOf({ ...ok, ADMIN_PASSWORD: 'admin' })) assert.doesNotMatch(line, /\n/);
});

test('config: TRUST_PROXY takes addresses and ranges', () => {
  assert.deepEqual(loadConfig({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' }).trustProxy, [
    '127.0.0.1',
    '10.0.0.0/8',
  ]);
  assert.equal(loadConfig({ TRUST_PROXY: 'off' }).trustProxy, false);
  assert.match(problemsOf({ TRUST_PROXY: 'everyone' })[0]!, /^TRUST_PROXY/);
});

test('config: sessions last at most 30 days; the idle limit is whole days [ASVS V7.3.2]', () => {
  assert.equal(
    loadConfig({ REFRESH_TOKEN_TTL: '7d', SESSION_IDLE_DAYS: '3' }).refreshTokenTtlSeconds,
    7 * 86400,
  );
  assert.equal(loadConfig({ SESSION_IDLE_DAYS: '3' }).sessionIdleSeconds, 3 * 86400);
  assert.match(
    problemsOf({ REFRESH_TOKEN_TTL: '31d' })[0]!,
    /^REFRESH_TOKEN_TTL: "31d" is not a duration from 1s to 30d/,
  );
  // Seconds work, very short values start with a warning, a refresh shorter than an access token is refused.
  const short = loadConfig({ ACCESS_TOKEN_TTL: '2', REFRESH_TOKEN_TTL: '3' });
  assert.equal(short.accessTokenTtlSeconds, 2);
  assert.equal(short.refreshTokenTtlSeconds, 3);
  assert.match(short.warnings.join('\n'), /ACCESS_TOKEN_TTL is 2 s/);
  assert.match(short.warnings.join('\n'), /REFRESH_TOKEN_TTL is 3 s/);
  assert.match(
    problemsOf({ REFRESH_TOKEN_TTL: '3' })[0]!,
    /^REFRESH_TOKEN_TTL: is shorter than ACCESS_TOKEN_TTL \(900 s\)/,
  );
  assert.equal(loadConfig({ ACCESS_TOKEN_TTL: '15m', REFRESH_TOKEN_TTL: '900' }).refreshTokenTtlSeconds, 900);
  assert.match(problemsOf({ SESSION_IDLE_DAYS: '0' })[0]!, /^SESSION_IDLE_DAYS/);
  assert.match(problemsOf({ SESSION_IDLE_DAYS: '1.5' })[0]!, /^SESSION_IDLE_DAYS/);
});

test('config: JWT_ALG with JWT_PRIVATE_KEY (PEM text, escaped newlines or @path), checked against the algorithm [RFC8725 §3.2]', async (t) => {
  const { generateKeyPairSync } = await import('node:crypto');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString();
  const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const smallRsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
    .privateKey.export({ format: 'pem', type: 'pkcs1' })
    .toString();

  assert.equal(loadConfig({ JWT_ALG: 'ES256', JWT_PRIVATE_KEY: ec }).jwtPrivateKey?.asymmetricKeyType, 'ec');
  assert.equal(loadConfig({ JWT_ALG: 'ES256', JWT_PRIVATE_KEY: ec.replace(/\n/g, '\\n') }).jwtAlg, 'ES256');
  const dir = mkdtempSync(join(tmpdir(), 'inkgate-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'key.pem'), ed);
  assert.equal(
    loadConfig({ JWT_ALG: 'EdDSA', JWT_PRIVATE_KEY: `@${join(dir, 'key.pem')}` }).jwtPrivateKey
      ?.asymmetricKeyType,
    'ed25519',
  );

  assert.match(
    problemsOf({ JWT_ALG: 'RS256', JWT_PRIVATE_KEY: ec })[0]!,
    /^JWT_PRIVATE_KEY: is a ec key; RS256 needs an RSA key/,
  );
  assert.match(problemsOf({ JWT_ALG: 'RS256', JWT_PRIVATE_KEY: smallRsa })[0]!, /shorter than 2048 bits/);
  assert.match(
    problemsOf({ JWT_ALG: 'ES256', JWT_PRIVATE_KEY: 'not a key' })[0]!,
    /is not a PEM private key/,
  );
  assert.match(
    problemsOf({ JWT_ALG: 'ES256', JWT_PRIVATE_KEY: '@/nonexistent/key.pem' })[0]!,
    /cannot read the file/,
  );
  assert.match(
    problemsOf({ JWT_ALG: 'HS512' })[0]!,
    /^JWT_ALG: "HS512" is not one of HS256, RS256, ES256, EdDSA/,
  );
  assert.match(problemsOf({ JWT_ALG: 'ES256', JWT_SECRET: 'x'.repeat(40) })[0]!, /^JWT_SECRET: is for HS256/);
  assert.match(problemsOf({ JWT_PRIVATE_KEY: ec })[0]!, /^JWT_PRIVATE_KEY: is for RS256, ES256 or EdDSA/);
  assert.match(
    problemsOf({
      JWT_ALG: 'ES256',
      NODE_ENV: 'production',
      ISSUER: 'https://api.example.com',
      KEY_ENCRYPTION_KEY: KEK,
    })[0]!,
    /^JWT_PRIVATE_KEY: is required with JWT_ALG=ES256 when NODE_ENV=production/,
  );
});

test('config: JWT_PREVIOUS_KEYS and JWT_KEY_ROTATION_DAYS', async () => {
  const { generateKeyPairSync } = await import('node:crypto');
  const one = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ format: 'pem', type: 'spki' })
    .toString();
  const two = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ format: 'pem', type: 'spki' })
    .toString();
  assert.equal(
    loadConfig({ JWT_ALG: 'ES256', JWT_PREVIOUS_KEYS: `${one},${two}` }).jwtPreviousKeys.length,
    2,
  );
  assert.equal(
    loadConfig({ JWT_PREVIOUS_KEYS: `${'a'.repeat(32)},${'b'.repeat(40)}` }).jwtPreviousKeys.length,
    2,
  );
  assert.match(
    problemsOf({ JWT_PREVIOUS_KEYS: 'short' })[0]!,
    /^JWT_PREVIOUS_KEYS: each HS256 secret must be at least 32 bytes/,
  );
  assert.match(
    problemsOf({ JWT_ALG: 'EdDSA', JWT_PREVIOUS_KEYS: one })[0]!,
    /^JWT_PREVIOUS_KEYS: is a ec key; EdDSA needs an Ed25519 key/,
  );
  assert.equal(loadConfig({ JWT_KEY_ROTATION_DAYS: '90' }).jwtKeyRotationDays, 90);
  assert.equal(loadConfig({ JWT_KEY_ROTATION_DAYS: 'off' }).jwtKeyRotationDays, undefined);
  assert.match(problemsOf({ JWT_KEY_ROTATION_DAYS: '0' })[0]!, /^JWT_KEY_ROTATION_DAYS/);
  assert.match(
    problemsOf({ JWT_KEY_ROTATION_DAYS: '30', JWT_SECRET: 'x'.repeat(32) })[0]!,
    /yours to rotate/,
  );
});

test('config: REDIS_URL and REDIS_PREFIX', () => {
  assert.equal(loadConfig({}).redisUrl, undefined);
  assert.equal(loadConfig({}).redisPrefix, 'inkgate:');
  const config = loadConfig({ REDIS_URL: 'redis://cache:6379/2', REDIS_PREFIX: 'blog-a:' });
  assert.equal(config.redisUrl, 'redis://cache:6379/2');
  assert.equal(config.redisPrefix, 'blog-a:');
  assert.match(
    problemsOf({ REDIS_URL: 'http://cache' })[0]!,
    /^REDIS_URL: must start with redis:\/\/ or rediss:\/\//,
  );
  assert.match(problemsOf({ REDIS_PREFIX: 'has space' })[0]!, /^REDIS_PREFIX/);
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

test('config: a variable that looks like one of inkgate’s is a warning naming the one meant; other variables are not', () => {
  const { warnings } = loadConfig({
    DATABSE_URL: 'postgres://db/inkgate',
    redis_url: 'redis://cache',
    RATE_LIMIT_LOGIN: '5',
    JWT_SECERT: 'x'.repeat(40),
    PATH: '/usr/bin',
    HOME: '/root',
    HOSTNAME: 'box',
    NODE_OPTIONS: '--max-old-space-size=512',
    PORT: '8000',
  });
  assert.deepEqual(
    warnings.filter((line) => /is not an inkgate setting/.test(line)),
    [
      'DATABSE_URL is not an inkgate setting and is ignored: did you mean DATABASE_URL?',
      'redis_url is not an inkgate setting and is ignored: did you mean REDIS_URL?',
      'RATE_LIMIT_LOGIN is not an inkgate setting and is ignored: did you mean RATE_LIMIT_LOGINS?',
      'JWT_SECERT is not an inkgate setting and is ignored: did you mean JWT_SECRET?',
    ],
  );
  assert.deepEqual(nearMisses({ ...process.env }), [], 'nothing on this machine’s own environment');
});

/** Optimal string alignment distance over the whole table: the reference for the typo hints' banded check. */
function fullEditDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j += 1) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

test('config: a typo hint is given exactly when the full edit distance says the name is near', () => {
  // Every variable's one- and two-edit neighbours (a deletion, insertion, substitution, transposition
  // and pairs of them) and some far names, each checked against the distance over the whole table.
  const letters = ['A', 'E', 'R', 'S', '_', '1', 'Q'];
  const edits = (name: string): string[] => {
    const out: string[] = [];
    for (let i = 0; i <= name.length; i += 1) {
      if (i < name.length) out.push(name.slice(0, i) + name.slice(i + 1));
      if (i + 1 < name.length) out.push(name.slice(0, i) + name[i + 1] + name[i] + name.slice(i + 2));
      for (const letter of letters) {
        out.push(name.slice(0, i) + letter + name.slice(i));
        if (i < name.length) out.push(name.slice(0, i) + letter + name.slice(i + 1));
      }
    }
    return out;
  };
  const names = new Set<string>(['HOME', 'PATH', 'HOSTNAME', 'NODE_OPTIONS', 'TERM', 'LANG', 'PWD']);
  for (const known of VARIABLES) {
    const near = edits(known);
    for (const name of near) names.add(name);
    for (const name of near.filter((_, i) => i % 97 === 0))
      for (const further of edits(name)) names.add(further);
  }
  let hinted = 0;
  for (const name of names) {
    if (VARIABLES.includes(name)) continue;
    const expected = VARIABLES.some(
      (known) =>
        known.replace(/_/g, '') === name.replace(/_/g, '') ||
        fullEditDistance(name, known) <= (known.length >= 8 ? 2 : 1),
    );
    const got = nearMisses({ [name]: 'x' }).length === 1;
    assert.equal(got, expected, `${name}: ${got ? 'hinted' : 'not hinted'}`);
    if (got) hinted += 1;
  }
  assert.ok(hinted > 1000 && hinted < names.size, `${hinted} of ${names.size} hinted`);
});

test('config: NODE_ENV is production, development, test or unset; a typo is refused, not run as development', () => {
  for (const value of ['production', 'development', 'test']) {
    const env = value === 'production' ? {} : { NODE_ENV: value };
    assert.doesNotThrow(() => loadConfig(env), value);
  }
  for (const typo of ['prod', 'Production', 'staging']) {
    assert.match(
      problemsOf({ NODE_ENV: typo })[0]!,
      /^NODE_ENV: "[^"]+" is not one of production, development, test/,
    );
  }
});

test('config: the README’s configuration table lists exactly the variables inkgate reads', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| variable')));
  const listed = new Set(
    table
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...(line.split(' | ')[0] ?? '').matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!)),
  );
  assert.deepEqual([...listed].sort(), [...VARIABLES].sort());
});
