import { defaultHashConcurrency } from '../accounts/hash-queue.ts';
import { passwordProblem } from '../accounts/password-policy.ts';
import { accountFieldProblems } from '../accounts/signup-rules.ts';
import type { Config } from '../config.ts';
import type { Reader } from './reader.ts';

const DAY_SECONDS = 86_400;

/** Token and session lifetimes, the first admin, the hash queue and the account limits. */
export function readAccountSettings(read: Reader) {
  const { value, bad, warnings } = read;
  const accessTokenTtlSeconds = read.duration({
    name: 'ACCESS_TOKEN_TTL',
    fallback: 900,
    min: 1,
    max: DAY_SECONDS,
    range: '1s to 1d',
    example: '15m',
  });
  const refreshTokenTtlSeconds = read.duration({
    name: 'REFRESH_TOKEN_TTL',
    fallback: 30 * DAY_SECONDS,
    min: 1,
    max: 30 * DAY_SECONDS,
    range: '1s to 30d',
    example: '30d',
  });
  if (refreshTokenTtlSeconds < accessTokenTtlSeconds) {
    bad(
      'REFRESH_TOKEN_TTL',
      `is shorter than ACCESS_TOKEN_TTL (${accessTokenTtlSeconds} s): a session would end before its first access token`,
      '30d',
    );
  }

  let sessionIdleSeconds = 14 * DAY_SECONDS;
  const idleText = value('SESSION_IDLE_DAYS');
  if (idleText !== undefined) {
    if (!/^\d{1,3}$/.test(idleText) || Number(idleText) < 1 || Number(idleText) > 365) {
      bad('SESSION_IDLE_DAYS', `"${idleText}" is not a whole number of days from 1 to 365`, '14');
    } else {
      sessionIdleSeconds = Number(idleText) * DAY_SECONDS;
    }
  }

  const loginSessionTtlSeconds = read.duration({
    name: 'LOGIN_SESSION_TTL',
    fallback: 12 * 3600,
    min: 60,
    max: 30 * DAY_SECONDS,
    range: '1m to 30d',
    example: '12h',
  });
  const mfaRequired = read.oneOf('MFA_REQUIRED', ['off', 'admin', 'all'] as const, 'off', 'admin');
  const stepUpMaxAgeSeconds = read.duration({
    name: 'STEP_UP_MAX_AGE',
    fallback: 600,
    min: 60,
    max: DAY_SECONDS,
    range: '1m to 1d',
    example: '10m',
  });
  const admin = readAdmin(read);
  const limits = read.counts({
    hashConcurrency: {
      name: 'HASH_CONCURRENCY',
      fallback: defaultHashConcurrency(),
      min: 1,
      max: 64,
      example: '2',
    },
    hashQueue: { name: 'HASH_QUEUE', fallback: 64, min: 0, max: 100_000, example: '64' },
    hashShare: { name: 'HASH_SHARE', fallback: 4, min: 1, max: 100_000, example: '4' },
    rateLimitLogins: { name: 'RATE_LIMIT_LOGINS', fallback: 60, min: 1, max: 1_000_000, example: '60' },
    rateLimitSignup: { name: 'RATE_LIMIT_SIGNUP', fallback: 10, min: 1, max: 1_000_000, example: '10' },
    rateLimitWrites: { name: 'RATE_LIMIT_WRITES', fallback: 60, min: 1, max: 1_000_000, example: '60' },
    auditRetentionDays: { name: 'AUDIT_RETENTION_DAYS', fallback: 90, min: 1, max: 36_500, example: '90' },
  });
  // Allowed (tests and demonstrations want them), but worth a line at start.
  if (accessTokenTtlSeconds < 60)
    warnings.push(`ACCESS_TOKEN_TTL is ${accessTokenTtlSeconds} s: clients will refresh constantly`);
  if (refreshTokenTtlSeconds < 3600)
    warnings.push(`REFRESH_TOKEN_TTL is ${refreshTokenTtlSeconds} s: sessions end within the hour`);
  return {
    accessTokenTtlSeconds,
    refreshTokenTtlSeconds,
    sessionIdleSeconds,
    loginSessionTtlSeconds,
    mfaRequired,
    stepUpMaxAgeSeconds,
    admin,
    ...limits,
  } satisfies Partial<Config>;
}

/** ADMIN_USERNAME, ADMIN_EMAIL, ADMIN_PASSWORD: all three or none, under signup's rules. */
function readAdmin(read: Reader): Config['admin'] {
  const { env, value, bad } = read;
  const adminVars = ['ADMIN_USERNAME', 'ADMIN_EMAIL', 'ADMIN_PASSWORD'] as const;
  const adminSet = adminVars.filter((name) => value(name) !== undefined);
  let admin: Config['admin'];
  const adminExamples = {
    ADMIN_USERNAME: 'admin',
    ADMIN_EMAIL: 'admin@example.com',
    ADMIN_PASSWORD: '"a long passphrase of your own"',
  };
  if (adminSet.length === adminVars.length) {
    admin = {
      username: value('ADMIN_USERNAME')!,
      email: value('ADMIN_EMAIL')!,
      password: env.ADMIN_PASSWORD!,
    };
    // Signup's rules (the same schema as POST /users), checked here so that a bad value is one line
    // naming it, not a crash at start.
    const names: Record<string, (typeof adminVars)[number]> = {
      '/username': 'ADMIN_USERNAME',
      '/email': 'ADMIN_EMAIL',
    };
    for (const { path, message } of accountFieldProblems(admin)) {
      const name = names[path] ?? 'ADMIN_USERNAME';
      bad(name, message, adminExamples[name]);
    }
    const problem = passwordProblem(admin.password, { username: admin.username, email: admin.email });
    if (problem) bad('ADMIN_PASSWORD', problem, adminExamples.ADMIN_PASSWORD);
  } else if (adminSet.length > 0) {
    for (const name of adminVars.filter((n) => !adminSet.includes(n))) {
      bad(name, 'must be set together with the other ADMIN_* variables', adminExamples[name]);
    }
  }
  return admin;
}
