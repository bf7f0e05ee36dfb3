import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly logins: Counter<'result'>;
  /** Answers of /authorize and the consent form, by outcome: a code, an error code, or the page shown. */
  readonly authorizations: Counter<'outcome'>;
  readonly refreshReuse: Counter;
  /** Password hashes waiting and running now, read at each scrape from `hashQueueState`. */
  hashQueueState?: () => { running: number; waiting: number };
  /** With REDIS_URL: whether the revocation fan-out is subscribed now, read at each scrape. */
  fanOutUp?: () => boolean;
  /** Milliseconds since the session cache's last complete look at the change feed began. */
  sessionFeedAgeMs?: () => number | undefined;
  /** The same for the public caches' content feed (lists and pages). */
  contentFeedAgeMs?: () => number | undefined;
  readonly hashWaitSeconds: Histogram;
  readonly rateLimited: Counter<'policy'>;
  /**
   * Lookups in the verified-token and session caches, hit or miss (their hit ratio): plain numbers
   * counted on the request path, handed to prom-client at each scrape.
   */
  readonly cacheLookups: Record<'token' | 'session', { hit: number; miss: number }>;
}

/**
 * Prometheus metrics on a registry of this app's own (tests build many apps in one process). The
 * default metrics include the event-loop delay (nodejs_eventloop_lag_*_seconds).
 * Requests are labelled by route template, never by raw URL, so label values stay bounded.
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const logins = new Counter({
    name: 'inkgate_logins_total',
    help: 'Password logins at /token by result (success, failure, throttled)',
    labelNames: ['result'],
    registers: [registry],
  });
  const refreshReuse = new Counter({
    name: 'inkgate_refresh_token_reuse_total',
    help: 'Spent refresh tokens presented again (each revoked its session)',
    registers: [registry],
  });
  const metrics: Metrics = {
    registry,
    logins,
    authorizations: new Counter({
      name: 'inkgate_authorizations_total',
      help: 'Authorization requests by outcome: code, an RFC 6749 error code, login (page shown), consent (page shown), refused (400 page)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    refreshReuse,
    hashWaitSeconds: new Histogram({
      name: 'inkgate_password_hash_wait_seconds',
      help: 'Time a password hash or verification waited in the queue before it ran',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'inkgate_rate_limited_total',
      help: 'Requests refused by a route rate limit (429), by policy',
      labelNames: ['policy'],
      registers: [registry],
    }),
    cacheLookups: { token: { hit: 0, miss: 0 }, session: { hit: 0, miss: 0 } },
  };
  const handedOver = { token: { hit: 0, miss: 0 }, session: { hit: 0, miss: 0 } };
  new Counter({
    name: 'inkgate_cache_lookups_total',
    help: 'Lookups in the verified-token and session caches by result (hit, miss)',
    labelNames: ['cache', 'result'],
    registers: [registry],
    collect() {
      for (const cache of ['token', 'session'] as const) {
        for (const result of ['hit', 'miss'] as const) {
          const delta = metrics.cacheLookups[cache][result] - handedOver[cache][result];
          handedOver[cache][result] += delta;
          this.inc({ cache, result }, delta);
        }
      }
    },
  });
  new Gauge({
    name: 'inkgate_password_hash_queue',
    help: 'Password hashes running and waiting in the queue (HASH_CONCURRENCY, HASH_QUEUE)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const state = metrics.hashQueueState?.() ?? { running: 0, waiting: 0 };
      this.set({ state: 'running' }, state.running);
      this.set({ state: 'waiting' }, state.waiting);
    },
  });
  new Gauge({
    name: 'inkgate_redis_fanout_up',
    help: 'With REDIS_URL: 1 while this instance hears other instances’ revocations at once, 0 while its subscription is being remade (the 1 s bound holds)',
    registers: [registry],
    collect() {
      if (metrics.fanOutUp) this.set(metrics.fanOutUp() ? 1 : 0);
    },
  });
  /** A change feed's age, read at each scrape (+Inf before a first look succeeds). */
  const feedAge = (name: string, help: string, read: () => (() => number | undefined) | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const ageMs = read();
        if (!ageMs) return;
        const ms = ageMs();
        this.set(ms === undefined ? Number.POSITIVE_INFINITY : ms / 1000);
      },
    });
  feedAge(
    'inkgate_session_feed_age_seconds',
    'Seconds since the session cache’s last complete look at the change feed began: under 1 while its entries are trusted past their first second (+Inf before a first look succeeds)',
    () => metrics.sessionFeedAgeMs,
  );
  feedAge(
    'inkgate_content_feed_age_seconds',
    'Seconds since the public caches’ last complete look at the content change feed began: under 1 while kept lists and pages serve past their first second (+Inf before a first look succeeds)',
    () => metrics.contentFeedAgeMs,
  );
  return metrics;
}

/** The request duration histogram's upper bounds, in seconds. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function instrumentRequests(app: FastifyInstance, metrics: Metrics): void {
  const labelNames = ['method', 'route', 'status_code'] as const;
  type Labels = Record<(typeof labelNames)[number], string>;
  // prom-client validates and hashes the label set on every call, even through labels(); the request
  // path only counts into plain numbers per (method, route, status), handed over at each scrape.
  // Bounded: routes are templates, methods and statuses few.
  const counts = new Map<string, { labels: Labels; count: number; handedOver: number }>();
  new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route template and status',
    labelNames,
    registers: [metrics.registry],
    collect() {
      for (const entry of counts.values()) {
        this.inc(entry.labels, entry.count - entry.handedOver);
        entry.handedOver = entry.count;
      }
    },
  });
  // The duration histogram likewise: bucket counts kept per (method, route, status) in plain arrays,
  // made into prom-client's histogram lines at each scrape (the same names, labels and buckets).
  const durations = new Map<string, { labels: Labels; buckets: number[]; sum: number; count: number }>();
  const name = 'http_request_duration_seconds';
  const help = 'HTTP request duration by method, route template and status';
  metrics.registry.registerMetric({
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      values: [...durations.values()].flatMap(({ labels, buckets, sum, count }) => {
        let cumulative = 0;
        return [
          ...DURATION_BUCKETS.map((le, index) => {
            cumulative += buckets[index]!;
            return { metricName: `${name}_bucket`, labels: { le, ...labels }, value: cumulative };
          }),
          { metricName: `${name}_bucket`, labels: { le: '+Inf', ...labels }, value: count },
          { metricName: `${name}_sum`, labels, value: sum },
          { metricName: `${name}_count`, labels, value: count },
        ];
      }),
    }),
    reset: () => durations.clear(),
  } as unknown as Parameters<Registry['registerMetric']>[0]);
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${route} ${reply.statusCode}`;
    let entry = counts.get(key);
    if (!entry) {
      entry = {
        labels: { method: request.method, route, status_code: String(reply.statusCode) },
        count: 0,
        handedOver: 0,
      };
      counts.set(key, entry);
    }
    entry.count += 1;
    let timing = durations.get(key);
    if (!timing) {
      timing = { labels: entry.labels, buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 };
      durations.set(key, timing);
    }
    const seconds = reply.elapsedTime / 1000;
    const bucket = DURATION_BUCKETS.findIndex((le) => seconds <= le);
    if (bucket >= 0) timing.buckets[bucket]! += 1;
    timing.sum += seconds;
    timing.count += 1;
    done();
  });
}
