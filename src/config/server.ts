import type { Config } from '../config.ts';
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

  const requestTimeoutSeconds = read.count({
    name: 'REQUEST_TIMEOUT',
    fallback: 30,
    min: 1,
    max: 3600,
    example: '30',
  });
  const metricsText = value('METRICS') ?? 'on';
  if (!['on', 'off'].includes(metricsText)) bad('METRICS', `"${metricsText}" must be on or off`, 'off');
  const metricsToken = value('METRICS_TOKEN');
  if (metricsToken !== undefined && Buffer.byteLength(metricsToken) < 16) {
    bad('METRICS_TOKEN', 'must be at least 16 bytes', '"$(openssl rand -base64 24)"');
  }

  const logLevel = read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info', 'info');

  if (issuerText === undefined && /^postgres/.test(databaseUrl)) {
    read.warnings.push(
      `ISSUER is not set: tokens name ${issuer}, which other instances sharing this PostgreSQL database refuse; set ISSUER to the public URL`,
    );
  }
  return {
    production,
    port,
    host,
    databaseUrl,
    redisUrl,
    redisPrefix,
    issuer: issuer.replace(/\/+$/, ''),
    audience,
    clientId,
    corsOrigins: Object.freeze(corsOrigins),
    trustProxy,
    requestTimeoutSeconds,
    metrics: metricsText === 'on' && (!production || metricsToken !== undefined),
    metricsToken,
    logLevel,
  } satisfies Partial<Config>;
}
