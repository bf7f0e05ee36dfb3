import { Buffer } from 'node:buffer';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { passwordProblem } from './accounts/password-policy.ts';
import { accountFieldProblems } from './accounts/signup-rules.ts';
import { ALGORITHMS, type KeySettings, type SigningAlgorithm } from './keys/key-ring.ts';

/**
 * Environment → a frozen, typed Config. Every bad variable is reported on its own line,
 * naming the variable, what is wrong and an example of a good value; nothing else reads process.env.
 */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  /** Shared failed-login counts and revocation fan-out across instances; undefined means per instance. */
  readonly redisUrl: string | undefined;
  readonly redisPrefix: string;
  readonly issuer: string;
  readonly audience: string;
  /** CLIENT_ID: the first-party client every access token names in client_id (RFC 9068 §2.2). */
  readonly clientId: string;
  readonly jwtAlg: SigningAlgorithm;
  /** HS256 secret from JWT_SECRET; undefined means "generate one and keep it in the database". */
  readonly jwtSecret: string | undefined;
  /** RS256/ES256/EdDSA private key from JWT_PRIVATE_KEY; undefined means "generate and store one". */
  readonly jwtPrivateKey: KeyObject | undefined;
  /** JWT_PREVIOUS_KEYS: keys that still verify but never sign (rotation managed outside inkgate). */
  readonly jwtPreviousKeys: ReadonlyArray<Uint8Array | KeyObject>;
  /** JWT_KEY_ROTATION_DAYS: rotate database keys on this schedule; undefined is off. */
  readonly jwtKeyRotationDays: number | undefined;
  readonly accessTokenTtlSeconds: number;
  /** How long a session (login) lasts at most: its refresh tokens end with it. */
  readonly refreshTokenTtlSeconds: number;
  /** A session not refreshed for this long ends. */
  readonly sessionIdleSeconds: number;
  readonly admin:
    | { readonly username: string; readonly email: string; readonly password: string }
    | undefined;
  readonly corsOrigins: readonly string[];
  /** Fastify's trustProxy: false, or the proxy addresses/CIDRs whose X-Forwarded-For is honoured. */
  readonly trustProxy: false | string[];
  readonly production: boolean;
  /** KEY_ENCRYPTION_KEY: 32 bytes that seal the keys and secrets kept in the database (AES-256-GCM). */
  readonly keyEncryptionKey: Uint8Array | undefined;
  /** Argon2id runs at once (HASH_CONCURRENCY) and waiting (HASH_QUEUE); more waiting is 503. */
  readonly hashConcurrency: number;
  readonly hashQueue: number;
  /** Places one address or one account may hold in that queue (HASH_SHARE); beyond it, 429. */
  readonly hashShare: number;
  /** Successful logins per account per hour (RATE_LIMIT_LOGINS); beyond it, 429 slow_down. */
  readonly rateLimitLogins: number;
  /** Signups per address per hour (RATE_LIMIT_SIGNUP) and post writes per user per minute (RATE_LIMIT_WRITES). */
  readonly rateLimitSignup: number;
  readonly rateLimitWrites: number;
  /** A request body must arrive within this (REQUEST_TIMEOUT); headers within min(10 s, this). */
  readonly requestTimeoutSeconds: number;
  /** Audit events older than this many days are deleted (AUDIT_RETENTION_DAYS). */
  readonly auditRetentionDays: number;
  /** SMTP_URL: where mail goes; without it each message is an .eml file in mailDir. */
  readonly smtpUrl: string | undefined;
  /** MAIL_FROM: the From of every message. */
  readonly mailFrom: string;
  /** MAIL_DIR: where messages are written without SMTP_URL (created 0700). */
  readonly mailDir: string;
  /** APP_URL: the base of the links in messages; ISSUER by default. */
  readonly appUrl: string;
  /** EMAIL_VERIFICATION: `required` gives unverified users' tokens only `profile`, and hides taken emails at signup. */
  readonly emailVerification: 'optional' | 'required';
  readonly passwordResetTtlSeconds: number;
  readonly emailVerificationTtlSeconds: number;
  /** RATE_LIMIT_MAIL: messages per recipient per hour (and four times as many requests per address). */
  readonly rateLimitMail: number;
  /** Settings that are allowed but worth a line in the log at start (very short lifetimes). */
  readonly warnings: readonly string[];
  /**
   * Whether /metrics is served: METRICS=on, and in production only with METRICS_TOKEN (an open
   * /metrics tells anyone the traffic, the failure rates and the versions).
   */
  readonly metrics: boolean;
  /** The bearer token /metrics requires (METRICS_TOKEN); required in production. */
  readonly metricsToken: string | undefined;
  readonly logLevel: string;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Every environment variable inkgate reads; the README's configuration table lists exactly these. */
export const VARIABLES: readonly string[] = [
  'ACCESS_TOKEN_TTL',
  'ADMIN_EMAIL',
  'ADMIN_PASSWORD',
  'ADMIN_USERNAME',
  'APP_URL',
  'AUDIT_RETENTION_DAYS',
  'CLIENT_ID',
  'CORS_ORIGINS',
  'DATABASE_URL',
  'EMAIL_VERIFICATION',
  'EMAIL_VERIFICATION_TTL',
  'HASH_CONCURRENCY',
  'HASH_QUEUE',
  'HASH_SHARE',
  'HOST',
  'ISSUER',
  'JWT_ALG',
  'JWT_AUDIENCE',
  'JWT_KEY_ROTATION_DAYS',
  'JWT_PREVIOUS_KEYS',
  'JWT_PRIVATE_KEY',
  'JWT_SECRET',
  'KEY_ENCRYPTION_KEY',
  'LOG_LEVEL',
  'MAIL_DIR',
  'MAIL_FROM',
  'METRICS',
  'METRICS_TOKEN',
  'NODE_ENV',
  'PASSWORD_RESET_TTL',
  'PORT',
  'RATE_LIMIT_LOGINS',
  'RATE_LIMIT_MAIL',
  'RATE_LIMIT_SIGNUP',
  'RATE_LIMIT_WRITES',
  'REDIS_PREFIX',
  'REDIS_URL',
  'REFRESH_TOKEN_TTL',
  'REQUEST_TIMEOUT',
  'SESSION_IDLE_DAYS',
  'SMTP_URL',
  'TRUST_PROXY',
];
const KNOWN = new Set(VARIABLES);

/** The NODE_ENV values a runtime understands; anything else is a typo (`prod`) that would run as development. */
const NODE_ENVS = ['production', 'development', 'test'];

/** Optimal string alignment distance (Levenshtein with transpositions), for typo hints. */
function editDistance(a: string, b: string): number {
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

/**
 * Variables that look like one of inkgate's but are not (`DATABSE_URL`, `database_url`,
 * `RATE_LIMIT_LOGIN`): each would otherwise be ignored in silence, and its default used. A near miss
 * is the same name in another case or spelling of separators, or within one edit of a name (two for
 * names of 8 characters or more), so HOME, PATH or HOSTNAME are never taken for HOST or PORT.
 */
export function nearMisses(
  env: Readonly<Record<string, string | undefined>>,
): Array<{ name: string; meant: string }> {
  const squash = (name: string) => name.toUpperCase().replace(/[^A-Z0-9]/g, '');
  const misses: Array<{ name: string; meant: string }> = [];
  for (const name of Object.keys(env)) {
    if (KNOWN.has(name)) continue;
    const meant = VARIABLES.find(
      (known) =>
        squash(known) === squash(name) ||
        editDistance(name.toUpperCase(), known) <= (known.length >= 8 ? 2 : 1),
    );
    if (meant !== undefined) misses.push({ name, meant });
  }
  return misses;
}

/** `900`, `900s`, `15m`, `12h`, `30d` → seconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  const seconds = Number(match[1]) * unit;
  return seconds > 0 ? seconds : undefined;
}

export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    if (!KNOWN.has(name)) throw new Error(`config reads ${name}, which VARIABLES does not list`);
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  };
  const bad = (name: string, why: string, example: string) =>
    problems.push(`${name}: ${why}, e.g. ${name}=${example}`);

  const nodeEnv = value('NODE_ENV');
  if (nodeEnv !== undefined && !NODE_ENVS.includes(nodeEnv)) {
    bad('NODE_ENV', `"${nodeEnv}" is not one of ${NODE_ENVS.join(', ')} (or unset)`, 'production');
  }
  const production = nodeEnv === 'production';

  let port = 8000;
  const portText = value('PORT');
  if (portText !== undefined) {
    port = Number(portText);
    if (!/^\d{1,5}$/.test(portText) || port > 65535)
      bad('PORT', `"${portText}" is not a port number`, '8000');
  }
  const host = value('HOST') ?? '127.0.0.1';

  const databaseUrl = value('DATABASE_URL') ?? 'sqlite:./data/inkgate.db';
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(databaseUrl)) {
    bad('DATABASE_URL', 'must start with sqlite: or postgres://', 'sqlite:./data/inkgate.db');
  }

  const redisUrl = value('REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\/.+/.test(redisUrl)) {
    bad('REDIS_URL', 'must start with redis:// or rediss://', 'redis://127.0.0.1:6379');
  }
  const redisPrefix = value('REDIS_PREFIX') ?? 'inkgate:';
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(redisPrefix)) {
    bad('REDIS_PREFIX', `"${redisPrefix}" must be 1 to 64 of A-Z a-z 0-9 : _ . -`, 'blog-prod:');
  }

  const issuerText = value('ISSUER');
  // The default names this listener (a bad PORT is blamed once, on PORT, not on ISSUER too).
  const listenPort = Number.isInteger(port) && port <= 65535 ? port : 8000;
  const issuer = issuerText ?? `http://${host.includes(':') ? `[${host}]` : host}:${listenPort}`;
  if (!URL.canParse(issuer) || !/^https?:$/.test(new URL(issuer).protocol)) {
    bad('ISSUER', `"${issuer}" is not an http(s) URL`, 'https://blog.example.com');
  }
  if (issuerText === undefined && production) {
    // Every instance must name the same issuer, or each refuses the others' tokens (RFC 9068 §4).
    bad(
      'ISSUER',
      'is required when NODE_ENV=production: the public URL every instance names in its tokens',
      'https://api.example.com',
    );
  }
  const audience = value('JWT_AUDIENCE') ?? 'inkgate';
  const clientId = value('CLIENT_ID') ?? 'inkgate';
  if (!/^[\x21-\x7e]{1,100}$/.test(clientId))
    bad('CLIENT_ID', `"${clientId}" must be 1 to 100 visible ASCII characters`, 'inkgate');

  const algText = value('JWT_ALG') ?? 'HS256';
  const jwtAlg = (ALGORITHMS as readonly string[]).includes(algText)
    ? (algText as SigningAlgorithm)
    : 'HS256';
  if (jwtAlg !== algText) bad('JWT_ALG', `"${algText}" is not one of ${ALGORITHMS.join(', ')}`, 'ES256');
  const keyExample =
    jwtAlg === 'HS256' ? '"$(openssl rand -base64 48)"' : '@/run/secrets/inkgate-signing-key.pem';

  const jwtSecret = env.JWT_SECRET === undefined || env.JWT_SECRET === '' ? undefined : env.JWT_SECRET;
  if (jwtSecret !== undefined && jwtAlg !== 'HS256') {
    bad('JWT_SECRET', `is for HS256; with JWT_ALG=${jwtAlg} set JWT_PRIVATE_KEY instead`, '(unset)');
  } else if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret, 'utf8') < 32) {
    bad('JWT_SECRET', 'must be at least 32 bytes of UTF-8 text', keyExample);
  }
  if (jwtSecret === undefined && jwtAlg === 'HS256' && production) {
    bad('JWT_SECRET', 'is required when NODE_ENV=production (no generated secrets)', keyExample);
  }

  let jwtPrivateKey: KeyObject | undefined;
  const privateText = value('JWT_PRIVATE_KEY');
  if (privateText !== undefined) {
    if (jwtAlg === 'HS256') {
      bad('JWT_PRIVATE_KEY', 'is for RS256, ES256 or EdDSA; set JWT_ALG too', 'ES256');
    } else {
      const problem = (why: string) => bad('JWT_PRIVATE_KEY', why, keyExample);
      const pem = readKeyText(privateText, problem);
      if (pem !== undefined) {
        try {
          jwtPrivateKey = createPrivateKey(pem);
          const mismatch = keyMismatch(jwtAlg, jwtPrivateKey);
          if (mismatch) {
            problem(mismatch);
            jwtPrivateKey = undefined;
          }
        } catch {
          problem('is not a PEM private key (PKCS#8, PKCS#1 or SEC1)');
        }
      }
    }
  } else if (jwtAlg !== 'HS256' && production) {
    bad(
      'JWT_PRIVATE_KEY',
      `is required with JWT_ALG=${jwtAlg} when NODE_ENV=production (no generated keys)`,
      keyExample,
    );
  }

  const jwtPreviousKeys: Array<Uint8Array | KeyObject> = [];
  const previousText = value('JWT_PREVIOUS_KEYS');
  if (previousText !== undefined) {
    const problem = (why: string) =>
      bad(
        'JWT_PREVIOUS_KEYS',
        why,
        jwtAlg === 'HS256' ? '"old-secret-of-32-bytes-or-more…"' : '@/etc/inkgate/old-public.pem',
      );
    for (const item of previousText
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)) {
      const text = readKeyText(item, problem);
      if (text === undefined) continue;
      if (jwtAlg === 'HS256') {
        if (Buffer.byteLength(text, 'utf8') < 32) problem('each HS256 secret must be at least 32 bytes');
        else jwtPreviousKeys.push(new TextEncoder().encode(text));
        continue;
      }
      for (const block of text.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [text]) {
        try {
          const key = createPublicKey(block);
          const mismatch = keyMismatch(jwtAlg, key);
          if (mismatch) problem(mismatch);
          else jwtPreviousKeys.push(key);
        } catch {
          problem('holds something that is not a PEM public key');
        }
      }
    }
  }

  let jwtKeyRotationDays: number | undefined;
  const rotationText = value('JWT_KEY_ROTATION_DAYS');
  if (rotationText !== undefined && rotationText !== 'off') {
    if (!/^\d{1,4}$/.test(rotationText) || Number(rotationText) < 1) {
      bad('JWT_KEY_ROTATION_DAYS', `"${rotationText}" is not a whole number of days (or off)`, '90');
    } else if (jwtSecret !== undefined || jwtPrivateKey !== undefined) {
      bad(
        'JWT_KEY_ROTATION_DAYS',
        'rotates keys kept in the database; keys from JWT_SECRET or JWT_PRIVATE_KEY are yours to rotate',
        'off',
      );
    } else {
      jwtKeyRotationDays = Number(rotationText);
    }
  }

  /** A duration setting within [min, max] seconds; `range` words the bounds for the error line. */
  const duration = (
    name: string,
    fallback: number,
    min: number,
    max: number,
    range: string,
    example: string,
  ) => {
    const text = value(name);
    if (text === undefined) return fallback;
    const parsed = parseDuration(text);
    if (parsed !== undefined && parsed >= min && parsed <= max) return parsed;
    bad(name, `"${text}" is not a duration from ${range}`, example);
    return fallback;
  };
  const accessTokenTtlSeconds = duration('ACCESS_TOKEN_TTL', 900, 1, 86400, '1s to 1d', '15m');
  const refreshTokenTtlSeconds = duration('REFRESH_TOKEN_TTL', 30 * 86400, 1, 30 * 86400, '1s to 30d', '30d');
  if (refreshTokenTtlSeconds < accessTokenTtlSeconds) {
    bad(
      'REFRESH_TOKEN_TTL',
      `is shorter than ACCESS_TOKEN_TTL (${accessTokenTtlSeconds} s): a session would end before its first access token`,
      '30d',
    );
  }

  let sessionIdleSeconds = 14 * 86400;
  const idleText = value('SESSION_IDLE_DAYS');
  if (idleText !== undefined) {
    if (!/^\d{1,3}$/.test(idleText) || Number(idleText) < 1 || Number(idleText) > 365) {
      bad('SESSION_IDLE_DAYS', `"${idleText}" is not a whole number of days from 1 to 365`, '14');
    } else {
      sessionIdleSeconds = Number(idleText) * 86400;
    }
  }

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

  const corsOrigins = (value('CORS_ORIGINS') ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
      bad(
        'CORS_ORIGINS',
        `"${origin}" is not an origin (scheme://host[:port], no path)`,
        'https://app.example.com',
      );
    }
  }

  const trustProxyText = value('TRUST_PROXY');
  let trustProxy: Config['trustProxy'] = false;
  if (trustProxyText !== undefined && !['off', 'false', '0'].includes(trustProxyText)) {
    trustProxy = trustProxyText
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    for (const entry of trustProxy) {
      if (
        !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(entry) &&
        !['loopback', 'linklocal', 'uniquelocal'].includes(entry)
      ) {
        bad('TRUST_PROXY', `"${entry}" is not an address, a CIDR range or loopback`, '127.0.0.1,10.0.0.0/8');
      }
    }
  }

  /** A whole number setting from `min` to `max`. */
  const count = (name: string, fallback: number, min: number, max: number, example: string) => {
    const text = value(name);
    if (text === undefined) return fallback;
    if (/^\d{1,9}$/.test(text) && Number(text) >= min && Number(text) <= max) return Number(text);
    bad(name, `"${text}" is not a whole number from ${min} to ${max}`, example);
    return fallback;
  };
  const hashConcurrency = count('HASH_CONCURRENCY', availableParallelism(), 1, 64, '2');
  const hashQueue = count('HASH_QUEUE', 64, 0, 100_000, '64');
  const hashShare = count('HASH_SHARE', 4, 1, 100_000, '4');
  const rateLimitLogins = count('RATE_LIMIT_LOGINS', 60, 1, 1_000_000, '60');
  const rateLimitSignup = count('RATE_LIMIT_SIGNUP', 10, 1, 1_000_000, '10');
  const rateLimitWrites = count('RATE_LIMIT_WRITES', 60, 1, 1_000_000, '60');

  let keyEncryptionKey: Uint8Array | undefined;
  const kekText = value('KEY_ENCRYPTION_KEY');
  if (kekText !== undefined) {
    const bytes = Buffer.from(kekText, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(kekText) || bytes.length !== 32) {
      bad('KEY_ENCRYPTION_KEY', 'must be 32 bytes in base64', '"$(openssl rand -base64 32)"');
    } else {
      keyEncryptionKey = new Uint8Array(bytes);
    }
  } else if (production) {
    bad(
      'KEY_ENCRYPTION_KEY',
      'is required when NODE_ENV=production: it seals the server keys inkgate keeps in the database',
      '"$(openssl rand -base64 32)"',
    );
  }

  const requestTimeoutSeconds = count('REQUEST_TIMEOUT', 30, 1, 3600, '30');
  const auditRetentionDays = count('AUDIT_RETENTION_DAYS', 90, 1, 36_500, '90');

  const warnings: string[] = nearMisses(env).map(
    ({ name, meant }) => `${name} is not an inkgate setting and is ignored: did you mean ${meant}?`,
  );
  // Allowed (tests and demonstrations want them), but worth a line at start.
  if (accessTokenTtlSeconds < 60)
    warnings.push(`ACCESS_TOKEN_TTL is ${accessTokenTtlSeconds} s: clients will refresh constantly`);
  if (refreshTokenTtlSeconds < 3600)
    warnings.push(`REFRESH_TOKEN_TTL is ${refreshTokenTtlSeconds} s: sessions end within the hour`);
  if (issuerText === undefined && /^postgres/.test(databaseUrl)) {
    warnings.push(
      `ISSUER is not set: tokens name ${issuer}, which other instances sharing this PostgreSQL database refuse; set ISSUER to the public URL`,
    );
  }
  const smtpUrl = value('SMTP_URL');
  if (smtpUrl !== undefined && !/^smtps?:\/\/[^/]+/.test(smtpUrl)) {
    bad('SMTP_URL', 'must be an smtp:// or smtps:// URL', 'smtp://user:pass@mail.example.com:587');
  }
  const mailFrom = value('MAIL_FROM') ?? 'inkgate <no-reply@localhost>';
  if (!/^([^<>\r\n]*<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+)$/.test(mailFrom)) {
    bad('MAIL_FROM', `"${mailFrom}" is not an address`, '"inkgate <no-reply@example.com>"');
  }
  const mailDir = value('MAIL_DIR') ?? './data/mail/';
  const appUrlText = value('APP_URL');
  if (appUrlText !== undefined && !/^https?:\/\/[^/]+/.test(appUrlText)) {
    bad('APP_URL', `"${appUrlText}" is not an http(s) URL`, 'https://blog.example.com');
  }
  const emailVerification = value('EMAIL_VERIFICATION') ?? 'optional';
  if (emailVerification !== 'optional' && emailVerification !== 'required') {
    bad('EMAIL_VERIFICATION', `"${emailVerification}" must be optional or required`, 'required');
  }
  if (production && emailVerification === 'required' && smtpUrl === undefined) {
    bad(
      'SMTP_URL',
      'is required when NODE_ENV=production and EMAIL_VERIFICATION=required (messages must reach people)',
      'smtp://user:pass@mail.example.com:587',
    );
  }
  const lifetime = (name: string, fallback: number, max: number, example: string) => {
    const seconds = duration(name, fallback, 1, max, `1s to ${max / 86400}d`, example);
    if (seconds < 300)
      warnings.push(`${name} is ${seconds} s: links in messages will expire before most people open them`);
    return seconds;
  };
  const passwordResetTtlSeconds = lifetime('PASSWORD_RESET_TTL', 1800, 86400, '30m');
  const emailVerificationTtlSeconds = lifetime('EMAIL_VERIFICATION_TTL', 86400, 30 * 86400, '24h');
  const rateLimitMail = count('RATE_LIMIT_MAIL', 5, 1, 1_000_000, '5');

  const metricsText = value('METRICS') ?? 'on';
  if (!['on', 'off'].includes(metricsText)) bad('METRICS', `"${metricsText}" must be on or off`, 'off');
  const metricsToken = value('METRICS_TOKEN');
  if (metricsToken !== undefined && Buffer.byteLength(metricsToken) < 16) {
    bad('METRICS_TOKEN', 'must be at least 16 bytes', '"$(openssl rand -base64 24)"');
  }

  const logLevel = value('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel))
    bad('LOG_LEVEL', `"${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`, 'info');

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    port,
    host,
    databaseUrl,
    redisUrl,
    redisPrefix,
    issuer: issuer.replace(/\/+$/, ''),
    audience,
    clientId,
    jwtAlg,
    jwtSecret,
    jwtPrivateKey,
    jwtPreviousKeys: Object.freeze(jwtPreviousKeys),
    jwtKeyRotationDays,
    accessTokenTtlSeconds,
    refreshTokenTtlSeconds,
    sessionIdleSeconds,
    admin,
    corsOrigins: Object.freeze(corsOrigins),
    trustProxy,
    production,
    keyEncryptionKey,
    hashConcurrency,
    hashQueue,
    hashShare,
    rateLimitLogins,
    rateLimitSignup,
    rateLimitWrites,
    requestTimeoutSeconds,
    auditRetentionDays,
    smtpUrl,
    mailFrom,
    mailDir,
    appUrl: (appUrlText ?? issuer).replace(/\/+$/, ''),
    emailVerification: emailVerification === 'required' ? 'required' : 'optional',
    passwordResetTtlSeconds,
    emailVerificationTtlSeconds,
    rateLimitMail,
    warnings: Object.freeze(warnings),
    metrics: metricsText === 'on' && (!production || metricsToken !== undefined),
    metricsToken,
    logLevel,
  });
}

/** `@path` reads a file; anything else is the text itself. */
function readKeyText(text: string, problem: (why: string) => void): string | undefined {
  if (!text.startsWith('@')) return text.replace(/\\n/g, '\n');
  try {
    return readFileSync(text.slice(1), 'utf8');
  } catch {
    problem(`cannot read the file ${text.slice(1)}`);
    return undefined;
  }
}

/** Why `key` cannot serve `alg` (RFC 7518 §3.3: RSA keys of 2048 bits or more), or undefined. */
function keyMismatch(alg: SigningAlgorithm, key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (alg === 'RS256') {
    if (type !== 'rsa') return `is a ${type} key; RS256 needs an RSA key`;
    if ((details.modulusLength ?? 0) < 2048) return 'is an RSA key shorter than 2048 bits';
  }
  if (alg === 'ES256' && (type !== 'ec' || details.namedCurve !== 'prime256v1')) {
    return `is a ${type} key; ES256 needs an EC key on P-256`;
  }
  if (alg === 'EdDSA' && type !== 'ed25519') return `is a ${type} key; EdDSA needs an Ed25519 key`;
  return undefined;
}

/** The key settings of a configuration, as loadKeyRing takes them. */
export function keySettings(config: Config): KeySettings {
  return {
    alg: config.jwtAlg,
    secret: config.jwtSecret,
    privateKey: config.jwtPrivateKey,
    previousKeys: config.jwtPreviousKeys,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    rotationDays: config.jwtKeyRotationDays,
    encryptionKey: config.keyEncryptionKey,
  };
}
