import type { Config } from '../config.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Every environment variable inkgate reads; the README's configuration table lists exactly these. */
export const VARIABLES: readonly string[] = [
  'ACCESS_TOKEN_TTL',
  'ADMIN_EMAIL',
  'ADMIN_PASSWORD',
  'ADMIN_USERNAME',
  'APP_URL',
  'AUDIT_RETENTION_DAYS',
  'CLIENT_ID',
  'COMMENTS',
  'CORS_ORIGINS',
  'DATABASE_URL',
  'EMAIL_VERIFICATION',
  'EMAIL_VERIFICATION_TTL',
  'FIRST_PARTY_REDIRECT_URIS',
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
  'LOGIN_SESSION_TTL',
  'LOG_LEVEL',
  'MAIL_DIR',
  'MAIL_FROM',
  'METRICS',
  'METRICS_TOKEN',
  'MFA_REQUIRED',
  'NODE_ENV',
  'PASSWORD_GRANT',
  'PASSWORD_RESET_TTL',
  'PORT',
  'RATE_LIMIT_LOGINS',
  'RATE_LIMIT_MAIL',
  'RATE_LIMIT_SIGNUP',
  'RATE_LIMIT_COMMENTS',
  'RATE_LIMIT_WRITES',
  'REALWORLD_API',
  'REALWORLD_TOKEN_TTL',
  'REDIS_PREFIX',
  'REDIS_URL',
  'REFRESH_TOKEN_TTL',
  'REQUEST_TIMEOUT',
  'SESSION_IDLE_DAYS',
  'SITE_DESCRIPTION',
  'SITE_TITLE',
  'SMTP_URL',
  'STEP_UP_MAX_AGE',
  'TRUST_PROXY',
];
const KNOWN = new Set(VARIABLES);

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
    const meant = VARIABLES.find((known) => {
      if (squash(known) === squash(name)) return true;
      const allowed = known.length >= 8 ? 2 : 1;
      // The distance is at least the difference in length: most of the environment is passed over here.
      return (
        Math.abs(name.length - known.length) <= allowed && editDistance(name.toUpperCase(), known) <= allowed
      );
    });
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

/**
 * The one reader every section of the configuration reads through: a value (trimmed; empty is
 * unset), and the problems and warnings it collects, each problem one line naming the variable,
 * what is wrong and an example of a good value.
 */
export function createReader(env: Env) {
  const problems: string[] = [];
  const warnings: string[] = nearMisses(env).map(
    ({ name, meant }) => `${name} is not an inkgate setting and is ignored: did you mean ${meant}?`,
  );
  const value = (name: string): string | undefined => {
    if (!KNOWN.has(name)) throw new Error(`config reads ${name}, which VARIABLES does not list`);
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  };
  const bad = (name: string, why: string, example: string) => {
    problems.push(`${name}: ${why}, e.g. ${name}=${example}`);
  };
  /** A whole number setting from `min` to `max`. */
  const count = (setting: CountSetting): number => {
    const text = value(setting.name);
    if (text === undefined) return setting.fallback;
    if (/^\d{1,9}$/.test(text) && Number(text) >= setting.min && Number(text) <= setting.max)
      return Number(text);
    bad(
      setting.name,
      `"${text}" is not a whole number from ${setting.min} to ${setting.max}`,
      setting.example,
    );
    return setting.fallback;
  };
  /** A duration setting (`900`, `15m`, `30d`) within [min, max] seconds; `range` words the bounds. */
  const duration = (setting: DurationSetting): number => {
    const text = value(setting.name);
    if (text === undefined) return setting.fallback;
    const parsed = parseDuration(text);
    if (parsed !== undefined && parsed >= setting.min && parsed <= setting.max) return parsed;
    bad(setting.name, `"${text}" is not a duration from ${setting.range}`, setting.example);
    return setting.fallback;
  };
  /** One of `choices`. */
  const oneOf = <T extends string>(name: string, choices: readonly T[], fallback: T, example: string): T => {
    const text = value(name) ?? fallback;
    if ((choices as readonly string[]).includes(text)) return text as T;
    bad(name, `"${text}" is not one of ${choices.join(', ')}`, example);
    return fallback;
  };
  /** A text setting that must match `pattern` (`why` words the rule for the error line). */
  const matching = (setting: TextSetting): string | undefined => {
    const text = value(setting.name) ?? setting.fallback;
    if (text !== undefined && !setting.pattern.test(text)) {
      bad(setting.name, setting.why.replace('$value', `"${text}"`), setting.example);
    }
    return text;
  };
  /** A table of whole-number settings, read into the Config fields they name. */
  const counts = <K extends keyof Config>(table: Record<K, CountSetting>) =>
    Object.fromEntries(
      Object.entries<CountSetting>(table).map(([field, setting]) => [field, count(setting)]),
    ) as Record<K, number>;
  return { env, value, bad, count, duration, oneOf, matching, counts, problems, warnings };
}

export type Reader = ReturnType<typeof createReader>;

/** A whole-number setting, declared: variable, default, bounds and an example of a good value. */
export interface CountSetting {
  readonly name: string;
  readonly fallback: number;
  readonly min: number;
  readonly max: number;
  readonly example: string;
}

/** A duration setting, declared: variable, default and bounds in seconds, the bounds in words, an example. */
export interface DurationSetting {
  readonly name: string;
  readonly fallback: number;
  readonly min: number;
  readonly max: number;
  readonly range: string;
  readonly example: string;
}

/** A text setting, declared: variable, the shape it must have, what to say when it has not, an example. */
export interface TextSetting {
  readonly name: string;
  readonly fallback?: string;
  readonly pattern: RegExp;
  /** The rule in words; `$value` stands for the value given, quoted. */
  readonly why: string;
  readonly example: string;
}
