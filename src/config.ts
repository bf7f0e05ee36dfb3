import type { KeyObject } from 'node:crypto';
import { readAccountSettings } from './config/accounts.ts';
import { readBlogSettings } from './config/blog.ts';
import { readKeySettings } from './config/keys.ts';
import { readMailSettings } from './config/mail.ts';
import { ConfigError, createReader, type Env } from './config/reader.ts';
import { readServerSettings } from './config/server.ts';
import type { SigningAlgorithm } from './keys/signing-keys.ts';

export { keySettings } from './config/keys.ts';
export { ConfigError, nearMisses, parseDuration, VARIABLES } from './config/reader.ts';

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
  /** PASSWORD_GRANT: the password grant for the first-party client; off removes it from /token, the metadata and the document. */
  readonly passwordGrant: boolean;
  /** The first-party client's redirect URIs: Swagger UI's (`{ISSUER}/docs/static/oauth2-redirect.html`), then FIRST_PARTY_REDIRECT_URIS. */
  readonly firstPartyRedirectUris: readonly string[];
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
  /** How long a browser's sign-in at the login page lasts (LOGIN_SESSION_TTL). */
  readonly loginSessionTtlSeconds: number;
  /** MFA_REQUIRED: who must have a second factor (until they enrol one, their tokens carry only `profile`). */
  readonly mfaRequired: 'off' | 'admin' | 'all';
  /** STEP_UP_MAX_AGE: how recent a two-factor sign-in must be for the step-up routes. */
  readonly stepUpMaxAgeSeconds: number;
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
  /** COMMENTS: new comments are visible at once (open), wait for the post's author or an admin (moderated), or are refused (off). */
  readonly comments: 'open' | 'moderated' | 'off';
  /** Comments per user per minute (RATE_LIMIT_COMMENTS). */
  readonly rateLimitComments: number;
  /** The reader site's name (SITE_TITLE) and line (SITE_DESCRIPTION, '' for none). */
  readonly siteTitle: string;
  readonly siteDescription: string;
  /** REALWORLD_API=on: the RealWorld ("Conduit") API under /api, over the blog's services. */
  readonly realworldApi: boolean;
  /** REALWORLD_TOKEN_TTL: the lifetime of that API's access tokens (its clients never refresh). */
  readonly realworldTokenTtlSeconds: number;
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

/** The configuration, section by section over one reader; every problem of every section at once. */
export function loadConfig(env: Env): Config {
  const read = createReader(env);
  const server = readServerSettings(read);
  const config: Config = {
    ...server,
    ...readKeySettings(read, server.production),
    ...readAccountSettings(read),
    ...readMailSettings(read, server),
    ...readBlogSettings(read),
    warnings: Object.freeze(read.warnings),
  };
  // The RealWorld API's signup tells whether a name is taken, which EMAIL_VERIFICATION=required hides.
  if (config.realworldApi && config.emailVerification === 'required')
    read.bad(
      'REALWORLD_API',
      'cannot be on with EMAIL_VERIFICATION=required (its signup tells whether a name is taken)',
      'off',
    );
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return Object.freeze(config);
}
