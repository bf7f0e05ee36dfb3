import type { Config } from '../config.ts';
import { redirectUriProblem } from '../oauth/clients/redirect-uris.ts';
import type { Reader } from './reader.ts';

/** The NODE_ENV values a runtime understands; anything else is a typo (`prod`) that would run as development. */
const NODE_ENVS = ['production', 'development', 'test'];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Where and how the server listens, whom it names, whom it trusts, what it logs and measures. */
export function readServerSettings(read: Reader) {
  const { value, bad } = read;
  const nodeEnv = value('NODE_ENV');
  if (nodeEnv !== undefined && !NODE_ENVS.includes(nodeEnv)) {
    bad('NODE_ENV', `"${nodeEnv}" is not one of ${NODE_ENVS.join(', ')} (or unset)`, 'production');
  }
  const production = nodeEnv === 'production';
  const port = readPort(read);
  const host = value('HOST') ?? '127.0.0.1';
  const databaseUrl = read.matching({
    name: 'DATABASE_URL',
    fallback: 'sqlite:./data/inkgate.db',
    pattern: /^(sqlite:.+|postgres(ql)?:\/\/.+)$/,
    why: 'must start with sqlite: or postgres://',
    example: 'sqlite:./data/inkgate.db',
  }) as string;
  const issuer = readIssuer(read, { production, host, port, databaseUrl });
  const metricsText = read.oneOf('METRICS', ['on', 'off'], 'on', 'off');
  const passwordGrant = read.oneOf('PASSWORD_GRANT', ['on', 'off'], 'on', 'off') === 'on';
  const metricsToken = value('METRICS_TOKEN');
  if (metricsToken !== undefined && Buffer.byteLength(metricsToken) < 16) {
    bad('METRICS_TOKEN', 'must be at least 16 bytes', '"$(openssl rand -base64 24)"');
  }
  return {
    production,
    port,
    host,
    databaseUrl,
    redisUrl: read.matching({
      name: 'REDIS_URL',
      pattern: /^rediss?:\/\/.+/,
      why: 'must start with redis:// or rediss://',
      example: 'redis://127.0.0.1:6379',
    }),
    redisPrefix: read.matching({
      name: 'REDIS_PREFIX',
      fallback: 'inkgate:',
      pattern: /^[A-Za-z0-9:_.-]{1,64}$/,
      why: '$value must be 1 to 64 of A-Z a-z 0-9 : _ . -',
      example: 'blog-prod:',
    }) as string,
    issuer,
    audience: value('JWT_AUDIENCE') ?? 'inkgate',
    passwordGrant,
    clientId: read.matching({
      name: 'CLIENT_ID',
      fallback: 'inkgate',
      pattern: /^[\x21-\x7e]{1,100}$/,
      why: '$value must be 1 to 100 visible ASCII characters',
      example: 'inkgate',
    }) as string,
    firstPartyRedirectUris: Object.freeze([
      `${issuer}/docs/static/oauth2-redirect.html`,
      ...readFirstPartyRedirectUris(read),
    ]),
    corsOrigins: Object.freeze(readCorsOrigins(read)),
    trustProxy: readTrustProxy(read),
    requestTimeoutSeconds: read.count({
      name: 'REQUEST_TIMEOUT',
      fallback: 30,
      min: 1,
      max: 3600,
      example: '30',
    }),
    metrics: metricsText === 'on' && (!production || metricsToken !== undefined),
    metricsToken,
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info', 'info'),
  } satisfies Partial<Config>;
}

function readPort(read: Reader): number {
  const text = read.value('PORT');
  if (text === undefined) return 8000;
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port > 65535) read.bad('PORT', `"${text}" is not a port number`, '8000');
  return port;
}

/** ISSUER: the public URL tokens name; this listener's by default, required in production. */
function readIssuer(
  read: Reader,
  server: { production: boolean; host: string; port: number; databaseUrl: string },
): string {
  const text = read.value('ISSUER');
  // The default names this listener (a bad PORT is blamed once, on PORT, not on ISSUER too).
  const { host, port } = server;
  const listenPort = Number.isInteger(port) && port <= 65535 ? port : 8000;
  const issuer = text ?? `http://${host.includes(':') ? `[${host}]` : host}:${listenPort}`;
  if (!URL.canParse(issuer) || !/^https?:$/.test(new URL(issuer).protocol)) {
    read.bad('ISSUER', `"${issuer}" is not an http(s) URL`, 'https://blog.example.com');
  }
  if (text === undefined && server.production) {
    // Every instance must name the same issuer, or each refuses the others' tokens (RFC 9068 §4).
    read.bad(
      'ISSUER',
      'is required when NODE_ENV=production: the public URL every instance names in its tokens',
      'https://api.example.com',
    );
  }
  if (text === undefined && /^postgres/.test(server.databaseUrl)) {
    read.warnings.push(
      `ISSUER is not set: tokens name ${issuer}, which other instances sharing this PostgreSQL database refuse; set ISSUER to the public URL`,
    );
  }
  return issuer.replace(/\/+$/, '');
}

const listOf = (text: string | undefined) =>
  (text ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);

/** FIRST_PARTY_REDIRECT_URIS: more redirect URIs of the first-party client, under every client's rules. */
function readFirstPartyRedirectUris(read: Reader): string[] {
  const uris = listOf(read.value('FIRST_PARTY_REDIRECT_URIS'));
  for (const uri of uris) {
    const problem = redirectUriProblem(uri, 'public');
    if (problem)
      read.bad('FIRST_PARTY_REDIRECT_URIS', `"${uri}" ${problem}`, 'https://app.example.com/callback');
  }
  return uris;
}

function readCorsOrigins(read: Reader): string[] {
  const origins = listOf(read.value('CORS_ORIGINS'));
  for (const origin of origins) {
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
      read.bad(
        'CORS_ORIGINS',
        `"${origin}" is not an origin (scheme://host[:port], no path)`,
        'https://app.example.com',
      );
    }
  }
  return origins;
}

/** TRUST_PROXY: off, or the proxies (addresses, CIDR ranges, loopback …) whose X-Forwarded-For counts. */
function readTrustProxy(read: Reader): Config['trustProxy'] {
  const text = read.value('TRUST_PROXY');
  if (text === undefined || ['off', 'false', '0'].includes(text)) return false;
  const entries = listOf(text);
  for (const entry of entries) {
    if (
      !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(entry) &&
      !['loopback', 'linklocal', 'uniquelocal'].includes(entry)
    ) {
      read.bad(
        'TRUST_PROXY',
        `"${entry}" is not an address, a CIDR range or loopback`,
        '127.0.0.1,10.0.0.0/8',
      );
    }
  }
  return entries;
}
