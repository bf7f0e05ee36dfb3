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

/**
 * The letters of an upper-case name as the bits of one number: A–Z one each, the ten digits over
 * five bits, anything else one more. Letters sharing a bit only let more pairs on to the full check.
 */
function letterBits(name: string): number {
  let bits = 0;
  for (let i = 0; i < name.length; i += 1) {
    const code = name.charCodeAt(i);
    bits |=
      1 << (code >= 65 && code <= 90 ? code - 65 : code >= 48 && code <= 57 ? 26 + ((code - 48) % 5) : 31);
  }
  return bits;
}

/** How many letters one of the two names has and the other has not (as sets of letters). */
function lettersApart(a: string, b: string): number {
  let apart = letterBits(a) ^ letterBits(b);
  let count = 0;
  for (; apart !== 0; apart &= apart - 1) count += 1;
  return count;
}

/**
 * Whether `a` is within `allowed` edits of `b` (optimal string alignment: Levenshtein with
 * transpositions), for typo hints. Only the band of the table within `allowed` of its diagonal can
 * hold such a distance, and the look stops at the first row whose every cell is over it: the start
 * compares every variable of the environment with every name, before anything is compiled.
 */
function withinEdits(a: string, b: string, allowed: number): boolean {
  if (Math.abs(a.length - b.length) > allowed) return false;
  // Each edit adds or takes away at most one letter, and a substitution one of each.
  if (lettersApart(a, b) > 2 * allowed) return false;
  const over = allowed + 1;
  // Three rows of the table at a time (a transposition looks two rows back).
  let before = new Int32Array(b.length + 1).fill(over);
  let previous = Int32Array.from({ length: b.length + 1 }, (_, j) => Math.min(j, over));
  let row = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i += 1) {
    row.fill(over);
    if (i <= allowed) row[0] = i;
    let least = row[0]!;
    for (let j = Math.max(1, i - allowed); j <= Math.min(b.length, i + allowed); j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, before[j - 2]! + 1);
      row[j] = Math.min(best, over);
      least = Math.min(least, row[j]!);
    }
    if (least > allowed) return false;
    [before, previous, row] = [previous, row, before];
  }
  return previous[b.length]! <= allowed;
}

const squash = (name: string) => name.toUpperCase().replace(/[^A-Z0-9]/g, '');
/** Each name with its case and separators gone (`DATABASEURL`), for `database-url` and the like. */
const SQUASHED = new Map(VARIABLES.map((known) => [squash(known), known]));

/**
 * Variables that look like one of inkgate's but are not (`DATABSE_URL`, `database_url`,
 * `RATE_LIMIT_LOGIN`): each would otherwise be ignored in silence, and its default used. A near miss
 * is the same name in another case or spelling of separators, or within one edit of a name (two for
 * names of 8 characters or more), so HOME, PATH or HOSTNAME are never taken for HOST or PORT.
 */
export function nearMisses(
  env: Readonly<Record<string, string | undefined>>,
): Array<{ name: string; meant: string }> {
  const misses: Array<{ name: string; meant: string }> = [];
  for (const name of Object.keys(env)) {
    if (KNOWN.has(name)) continue;
    const upper = name.toUpperCase();
    const meant =
      SQUASHED.get(squash(name)) ??
      VARIABLES.find((known) => {
        return withinEdits(upper, known, known.length >= 8 ? 2 : 1);
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
