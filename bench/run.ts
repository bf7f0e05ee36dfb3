/**
 * npm run bench [-- --large]: inkgate against two baselines, each its own process, in one run.
 *
 * - Fastify 5 hello (bench/baselines/hello.ts) and Fastify 5 + jose jwtVerify per request
 *   (bench/baselines/jose.ts) are measured first, then inkgate (`src/main.ts`, production settings:
 *   logs at info, metrics on, the default limits) on a fresh database seeded with 1,000 users,
 *   10,000 sessions and 1,000 posts of about 1 KiB (bench/seed.ts).
 * - Where `taskset` exists the servers run on CPU 0 and this process (autocannon) on CPU 1.
 * - Each server first takes 2 s of its first workload, not measured, so that V8's compiling is not
 *   inside one row's seconds only.
 * - W7 is a flow (a signed-in browser's /authorize, then /token with the code): its row counts
 *   requests, and the summary flows per second and their ratio to Fastify hello.
 * - Each row: req/s, p50/p99 latency, unexpected answers, server CPU µs per request (from
 *   /proc/<pid>/stat), server RSS after the workload, and the ratio to Fastify hello in this run —
 *   absolute figures on a shared 2-core machine move from run to run; ratios hold.
 * - Writes bench/results/<date>.json. BENCH_SECONDS (5), BENCH_CONNECTIONS (32), BENCH_DATABASE_URL
 *   (PostgreSQL instead of a temporary SQLite file).
 * - --large also seeds 100,000 users and 1,000,000 posts and measures the first page, a deep cursor
 *   page and a search there.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import packageJson from '../package.json' with { type: 'json' };
import { hashPassword } from '../src/accounts/passwords.ts';
import { loadConfig } from '../src/config.ts';
import { PASSWORD, SEARCH_WORD, type Seeded, seed, TAGS } from './seed.ts';

const ROOT = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const LARGE = process.argv.includes('--large');
const CORES = availableParallelism(); // before this process pins itself to one
const PINNED = CORES >= 2 && spawnSync('taskset', ['-V']).status === 0;
const TICK_US = 1_000_000 / Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() || 100);

if (PINNED) spawnSync('taskset', ['-pc', '1', String(process.pid)]);
/** inkgate runs as `npm start` runs it: the variables and Node flags of the start script. */
const START_SCRIPT = packageJson.scripts.start.match(/^((?:\w+=\S+ )*)(?:exec )?node (.*) src\/main\.ts$/);
const START_ENV = Object.fromEntries(
  (START_SCRIPT?.[1] ?? '')
    .split(' ')
    .filter(Boolean)
    .map((assignment) => [
      assignment.split('=')[0]!,
      resolve(ROOT, assignment.slice(assignment.indexOf('=') + 1)),
    ]),
);
const START_FLAGS = (START_SCRIPT?.[2] ?? '').split(' ').filter(Boolean);

interface Server {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

/** Starts `script` as its own process (on CPU 0 when pinned); resolves once `ready` answers 200. */
async function start(
  script: string,
  env: Record<string, string>,
  ready = '/',
): Promise<Server & { startMs: number }> {
  const port = await freePort();
  const started = performance.now();
  // Under taskset the server runs on CPU 0; taskset execs node in place, so the pid is the server's.
  const [command, ...args] = [
    ...(PINNED ? ['taskset', '-c', '0'] : []),
    process.execPath,
    ...(script === 'src/main.ts' ? START_FLAGS : []),
    join(ROOT, script),
  ];
  const child: ChildProcess = spawn(command!, args, {
    env: { ...process.env, ...(script === 'src/main.ts' ? START_ENV : {}), ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 60_000; ; ) {
    if (
      await fetch(`${url}${ready}`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline || child.exitCode !== null) {
      throw new Error(`${script} did not start (exit ${child.exitCode})`);
    }
    await new Promise((done) => setTimeout(done, 5));
  }
  return {
    url,
    child,
    startMs: performance.now() - started,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((done) => child.once('exit', done));
    },
  };
}

/** User and system CPU time the process has used, in microseconds. */
function cpuMicros(child: ChildProcess): number {
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

function rssMb(child: ChildProcess, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const line = readFileSync(`/proc/${child.pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`))!;
  return Math.round(Number(line[1]) / 1024);
}

/** Starts the peak-RSS mark (VmHWM) again from the current RSS (Linux's clear_refs, value 5). */
function resetPeak(child: ChildProcess): void {
  try {
    writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
  } catch {
    // Not Linux, or not allowed: the peak then runs from the start of the process.
  }
}

interface Workload {
  name: string;
  server: Server;
  method?: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Each request takes the next of these (tokens, logins, addresses). */
  rotate?: Array<Partial<autocannon.Request>>;
  /** Instead: a sequence each connection runs in turn, passing values on in its context (a flow). */
  sequence?: autocannon.Request[];
  connections?: number;
  /** The status (or statuses) every answer should have. */
  expect?: number | number[];
  /** Seconds of load (BENCH_SECONDS by default). */
  seconds?: number;
}

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  unexpected: number;
  cpuUsPerRequest: number;
  rssMb: number;
  /** The highest RSS during the workload (VmHWM, reset before it). */
  peakRssMb: number;
  ratio?: number;
}

function load(workload: Workload): Promise<autocannon.Result> {
  let next = 0;
  const rotate = workload.rotate;
  return autocannon({
    url: `${workload.server.url}${workload.path}`,
    method: workload.method ?? 'GET',
    headers: workload.headers,
    body: workload.body,
    connections: workload.connections ?? CONNECTIONS,
    duration: workload.seconds ?? SECONDS,
    ...(workload.sequence && { requests: workload.sequence }),
    ...(rotate && {
      requests: [
        {
          setupRequest: (request: autocannon.Request) => {
            const change = rotate[next % rotate.length]!;
            next += 1;
            return { ...request, ...change, headers: { ...request.headers, ...change.headers } };
          },
        },
      ],
    }),
  });
}

async function measure(workload: Workload): Promise<Row> {
  resetPeak(workload.server.child);
  const cpuBefore = cpuMicros(workload.server.child);
  const result = await load(workload);
  const cpu = cpuMicros(workload.server.child) - cpuBefore;
  const stats = result.statusCodeStats as Record<string, { count: number }>;
  const expected = [workload.expect ?? 200]
    .flat()
    .reduce((sum, status) => sum + (stats[String(status)]?.count ?? 0), 0);
  const row: Row = {
    name: workload.name,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    unexpected: result.requests.total - expected + result.errors + result.timeouts,
    cpuUsPerRequest: Math.round(cpu / Math.max(1, result.requests.total)),
    rssMb: rssMb(workload.server.child),
    peakRssMb: rssMb(workload.server.child, 'VmHWM'),
  };
  console.error(`  ${row.name}: ${row.rps} req/s, p99 ${row.p99} ms, ${row.cpuUsPerRequest} µs CPU/request`);
  return row;
}

/**
 * A browser signed in at inkgate's login page, as a person would: the page (its form token and
 * cookie), then the form. Answers the cookies that browser then holds.
 */
async function signInBrowser(server: Server, username: string): Promise<string> {
  const cookiesOf = (response: Response) => response.headers.getSetCookie().map((c) => c.split(';')[0]!);
  const page = await fetch(`${server.url}/account/login`, { redirect: 'manual' });
  // The password form's fields (the page's first form; the passkey button's follows it).
  const form = /<form\b[\s\S]*?<\/form>/.exec(await page.text())?.[0] ?? '';
  const fields = Object.fromEntries(
    [...form.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)].map((match) => [
      match[1]!,
      match[2]!.replaceAll('&amp;', '&'),
    ]),
  );
  const signIn = await fetch(`${server.url}/account/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookiesOf(page).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...fields, username, password: PASSWORD }),
  });
  // inkgate_browser names this browser (its forms' tokens are bound to it); inkgate_signin is the
  // sign-in, set only when it succeeded.
  const signedIn = cookiesOf(signIn).find((cookie) => cookie.startsWith('inkgate_signin='));
  if (signIn.status !== 303 || !signedIn)
    throw new Error(`sign-in at the login page failed: ${signIn.status} ${signIn.headers.get('location')}`);
  return [...cookiesOf(page), signedIn].join('; ');
}

async function metric(server: Server, token: string, name: string): Promise<number> {
  const text = await (
    await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  ).text();
  return Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1] ?? Number.NaN);
}

function singleHashMs(): Promise<number> {
  return (async () => {
    const times: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      const started = performance.now();
      await hashPassword(PASSWORD);
      times.push(performance.now() - started);
    }
    return times.sort((a, b) => a - b)[3]!;
  })();
}

function inkgateEnv(databaseUrl: string, secrets: Record<string, string>) {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    DATABASE_URL: databaseUrl,
    ISSUER: 'http://127.0.0.1',
    // The signup flood comes from many addresses: the benchmark is the proxy that says which.
    TRUST_PROXY: '127.0.0.1',
    // Each signup's verification message is written as a file here, as on a server without SMTP_URL.
    MAIL_DIR: join(dir, 'mail'),
    // The RealWorld adapter, measured beside the native routes it maps (W12, W13, W13c).
    REALWORLD_API: 'on',
    ...secrets,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'inkgate-bench-'));
const secrets = {
  JWT_SECRET: randomBytes(48).toString('base64'),
  KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  METRICS_TOKEN: randomBytes(24).toString('base64url'),
};
const servers: Server[] = [];
try {
  const databaseUrl = process.env.BENCH_DATABASE_URL ?? `sqlite:${join(dir, 'bench.db')}`;
  const env = inkgateEnv(databaseUrl, secrets);
  const config = loadConfig(env);
  console.error('seeding 1,000 users, 10,000 sessions, 1,000 posts …');
  const seeded: Seeded = await seed(config, { users: 1000, tokensPerUser: 10, posts: 1000 });
  const token = seeded.tokens[0]!;
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const tampered = `${token.slice(0, -6)}${token.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`;

  const hello = await start('bench/baselines/hello.ts', {});
  servers.push(hello);
  const jose = await start('bench/baselines/jose.ts', {
    JWT_SECRET: secrets.JWT_SECRET,
    ISSUER: config.issuer,
  });
  servers.push(jose);
  const inkgate = await start('src/main.ts', env, '/healthz');
  servers.push(inkgate);

  const hashMs = await singleHashMs();
  const logins = seeded.usernames.map((username) => ({
    body: new URLSearchParams({ username, password: PASSWORD }).toString(),
  }));
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const w3: Omit<Workload, 'name'> = {
    server: inkgate,
    method: 'POST',
    path: '/token',
    headers: form,
    rotate: logins,
    connections: 4,
  };
  const signupFlood: Omit<Workload, 'name'> = {
    server: inkgate,
    method: 'POST',
    path: '/users',
    headers: { 'content-type': 'application/json' },
    connections: 8,
    expect: 201,
    rotate: Array.from({ length: 20_000 }, (_, i) => ({
      headers: { 'x-forwarded-for': `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
      body: JSON.stringify({ username: `flood_${i}`, email: `flood_${i}@example.com`, password: PASSWORD }),
    })),
  };

  const rows: Row[] = [];
  const run = async (workload: Workload) => {
    const row = await measure(workload);
    rows.push(row);
    return row;
  };
  // Each server's code is compiled by V8 as it runs: its first workload would pay that inside its
  // measured seconds, the others not. Two seconds of its first workload first, not measured.
  console.error('warming up each server for 2 s …');
  await load({ server: hello, path: '/', name: 'warm-up', seconds: 2 });
  await load({ server: jose, path: '/me', headers: bearer(token), name: 'warm-up', seconds: 2 });
  await load({ server: inkgate, path: '/users/me', headers: bearer(token), name: 'warm-up', seconds: 2 });
  console.error(`measuring, ${SECONDS} s per workload${PINNED ? ', servers on CPU 0, load on CPU 1' : ''} …`);
  await run({ name: 'Fastify 5 hello', server: hello, path: '/' });
  await run({
    name: 'Fastify 5 + jose jwtVerify per request',
    server: jose,
    path: '/me',
    headers: bearer(token),
  });
  await run({
    name: 'W1 GET /users/me, one token',
    server: inkgate,
    path: '/users/me',
    headers: bearer(token),
  });
  await run({
    name: 'W1b GET /users/me, 10,000 tokens of 1,000 users',
    server: inkgate,
    path: '/users/me',
    rotate: seeded.tokens.map((t) => ({ headers: bearer(t) })),
  });
  await run({
    name: 'W4 GET /users/me, tampered token (401)',
    server: inkgate,
    path: '/users/me',
    headers: bearer(tampered),
    expect: 401,
  });
  await run({ name: 'W2 GET /posts?limit=20, 1,000 posts', server: inkgate, path: '/posts?limit=20' });
  await run({ name: `W2q GET /posts?q=${SEARCH_WORD}`, server: inkgate, path: `/posts?q=${SEARCH_WORD}` });
  // The same two past the one-second list cache: a different page (cursor and limit) each request.
  const pages = (query: string) =>
    seeded.cursors.flatMap((cursor) =>
      [16, 18, 20, 22, 24].map((limit) => ({ path: `/posts?${query}limit=${limit}&cursor=${cursor}` })),
    );
  await run({
    name: 'W2c GET /posts, 5,000 distinct pages (no list cache)',
    server: inkgate,
    path: '/posts',
    rotate: pages(''),
  });
  await run({
    name: `W2qc GET /posts?q=${SEARCH_WORD}, 5,000 distinct pages`,
    server: inkgate,
    path: '/posts',
    rotate: pages(`q=${SEARCH_WORD}&`),
  });
  // The blog's public reads: a post's page, the home page (a browser's Accept), the feed, a tag's list.
  await run({
    name: 'W8 GET /p/{slug}, 1,000 posts in turn',
    server: inkgate,
    path: '/',
    rotate: seeded.slugs.map((slug) => ({ path: `/p/${slug}` })),
  });
  await run({
    name: 'W9 GET / (a browser: the home page)',
    server: inkgate,
    path: '/',
    headers: { accept: 'text/html' },
  });
  await run({ name: 'W10 GET /feed.atom', server: inkgate, path: '/feed.atom' });
  await run({
    name: 'W11 GET /posts?tag=, 20 tags in turn',
    server: inkgate,
    path: '/posts',
    rotate: seeded.tags.map((tag) => ({ path: `/posts?tag=${tag}` })),
  });
  await run({
    name: 'W11c GET /posts?tag=, 1,000 distinct deep pages (no list cache)',
    server: inkgate,
    path: '/posts',
    rotate: seeded.cursors.map((cursor, i) => ({
      path: `/posts?tag=${seeded.tags[i % TAGS]}&cursor=${cursor}`,
    })),
  });
  // The RealWorld adapter (REALWORLD_API=on) beside the native routes it maps: a list and one post.
  await run({
    name: 'W12n GET /posts/slug/{slug}, 1,000 posts in turn (native)',
    server: inkgate,
    path: '/',
    rotate: seeded.slugs.map((slug) => ({ path: `/posts/slug/${slug}` })),
  });
  await run({
    name: 'W12 GET /api/articles/{slug}, 1,000 posts in turn (RealWorld)',
    server: inkgate,
    path: '/',
    rotate: seeded.slugs.map((slug) => ({ path: `/api/articles/${slug}` })),
  });
  await run({ name: 'W13 GET /api/articles (RealWorld; beside W2)', server: inkgate, path: '/api/articles' });
  // The same past its list cache, as RealWorld clients page: a different offset page each request.
  await run({
    name: 'W13c GET /api/articles, 5,000 distinct offset pages (RealWorld; beside W2c)',
    server: inkgate,
    path: '/api/articles',
    rotate: Array.from({ length: 5000 }, (_, i) => ({
      path: `/api/articles?limit=${16 + (i % 5) * 2}&offset=${Math.floor(i / 5)}`,
    })),
  });
  const w3Row = await run({ name: 'W3 POST /token (Argon2id), 4 connections', ...w3 });
  // W7: the authorization code flow of a browser already signed in (no password hash): /authorize
  // answers 303 with a code, /token redeems it for a new session's tokens — two requests a flow.
  // One after another: one address's logins share the password-check queue (HASH_SHARE).
  const browsers: string[] = [];
  for (const username of seeded.usernames.slice(0, CONNECTIONS))
    browsers.push(await signInBrowser(inkgate, username));
  const verifier = randomBytes(32).toString('base64url');
  const authorizePath = `/authorize?${new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })}`;
  let nextBrowser = 0;
  const w7Row = await run({
    name: 'W7 code flow, signed-in browser: GET /authorize (303) + POST /token, 2 requests a flow',
    server: inkgate,
    path: authorizePath,
    expect: [303, 200],
    sequence: [
      {
        method: 'GET',
        path: authorizePath,
        setupRequest: (request) => {
          nextBrowser += 1;
          return {
            ...request,
            headers: { ...request.headers, cookie: browsers[nextBrowser % browsers.length]! },
          };
        },
        onResponse: (_status, _body, context, headers) => {
          const location = (headers as Record<string, string> | undefined)?.location ?? '';
          (context as { code?: string }).code = new URL(location, inkgate.url).searchParams.get('code') ?? '';
        },
      },
      {
        method: 'POST',
        path: '/token',
        headers: form,
        setupRequest: (request, context) => ({
          ...request,
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code: (context as { code?: string }).code ?? '',
            code_verifier: verifier,
            client_id: config.clientId,
          }).toString(),
        }),
      },
    ],
  });
  await run({
    name: 'W5 POST /posts, 10,000 tokens',
    server: inkgate,
    method: 'POST',
    path: '/posts',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Benchmark post', content: 'x'.repeat(1000) }),
    rotate: seeded.tokens.map((t) => ({ headers: bearer(t) })),
    expect: 201,
  });

  // W6: W1 at 4 connections, quiet, then beside logins, then beside a signup flood.
  const quietW1: Workload = {
    name: 'W6 W1 at 4 connections, quiet',
    server: inkgate,
    path: '/users/me',
    headers: bearer(token),
    connections: 4,
  };
  await metric(inkgate, secrets.METRICS_TOKEN, 'nodejs_eventloop_lag_p99_seconds'); // resets the window
  const quiet = await run(quietW1);
  const quietLag = await metric(inkgate, secrets.METRICS_TOKEN, 'nodejs_eventloop_lag_p99_seconds');
  const beside = async (name: string, other: Omit<Workload, 'name'>) => {
    const [row, beside] = await Promise.all([measure({ ...quietW1, name }), load({ name, ...other })]);
    rows.push(row);
    return {
      row,
      /** The other workload's own rate meanwhile (logins or signups a second). */
      otherRps: Math.round(beside.requests.average),
      lag: await metric(inkgate, secrets.METRICS_TOKEN, 'nodejs_eventloop_lag_p99_seconds'),
    };
  };
  const duringLogins = await beside('W6 W1 at 4 connections during W3 logins', w3);
  const duringFlood = await beside('W6 W1 at 4 connections during a signup flood', signupFlood);

  const repeats: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    repeats.push(
      (
        await measure({
          name: `W1 repeat ${i + 1}`,
          server: inkgate,
          path: '/users/me',
          headers: bearer(token),
        })
      ).rssMb,
    );
  }

  await inkgate.stop();
  servers.splice(servers.indexOf(inkgate), 1);
  // The price of /metrics: W1 on two fresh instances, metrics on and METRICS=off, taking turns (a
  // long-lived instance with full caches is not comparable with a fresh one).
  const fresh = {
    on: await start('src/main.ts', env, '/healthz'),
    off: await start('src/main.ts', { ...env, METRICS: 'off' }, '/healthz'),
  };
  servers.push(fresh.on, fresh.off);
  const turns = { on: [] as number[], off: [] as number[] };
  for (let i = 0; i < 3; i += 1) {
    for (const which of ['on', 'off'] as const) {
      const row = await measure({
        name: `W1, fresh instance, metrics ${which}`,
        server: fresh[which],
        path: '/users/me',
        headers: bearer(token),
      });
      turns[which].push(row.rps);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[1]!;
  for (const server of [fresh.on, fresh.off]) {
    await server.stop();
    servers.splice(servers.indexOf(server), 1);
  }
  // Start to the first 200 on /healthz, on the migrated database: the median of three starts.
  const starts: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    const restarted = await start('src/main.ts', env, '/healthz');
    starts.push(restarted.startMs);
    await restarted.stop();
  }
  const startMs = Math.round(median(starts));

  const base = rows[0]!.rps;
  for (const row of rows) row.ratio = Number((row.rps / base).toFixed(2));
  const w3Target = 0.8 * (1000 / hashMs) * 1;
  const summary = {
    singleHashMs: Number(hashMs.toFixed(1)),
    w3TargetRps: Math.round(w3Target),
    w3Rps: w3Row.rps,
    codeFlowsPerSecond: Math.round(w7Row.rps / 2),
    codeFlowRatioToHello: Number((w7Row.rps / 2 / base).toFixed(3)),
    w6: {
      quietP99: quiet.p99,
      duringLoginsP99: duringLogins.row.p99,
      duringFloodP99: duringFlood.row.p99,
      ratioDuringLogins: Number((duringLogins.row.rps / quiet.rps).toFixed(2)),
      ratioDuringFlood: Number((duringFlood.row.rps / quiet.rps).toFixed(2)),
      loginsPerSecondMeanwhile: duringLogins.otherRps,
      signupsPerSecondMeanwhile: duringFlood.otherRps,
      eventLoopP99Ms: {
        quiet: Math.round(quietLag * 1000),
        duringLogins: Math.round(duringLogins.lag * 1000),
        duringFlood: Math.round(duringFlood.lag * 1000),
      },
    },
    metricsW1MedianRps: { on: median(turns.on), off: median(turns.off) },
    metricsCostPercent: Math.round((median(turns.off) / median(turns.on) - 1) * 100),
    rssAfterRepeatsMb: repeats,
    maxRssMb: Math.max(...rows.map((row) => row.rssMb), ...repeats),
    peakRssMb: Math.max(...rows.map((row) => row.peakRssMb)),
    startToFirstHealthzMs: startMs,
  };

  let large: Row[] | undefined;
  if (LARGE) large = await runLarge(rows);

  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${CORES} cores, Node ${process.version}`;
  console.log(
    `\n${SECONDS} s per workload, ${CONNECTIONS} connections unless said; ${machine}${PINNED ? '; server on CPU 0, load on CPU 1' : ''}\n`,
  );
  console.log('| workload | req/s | × hello | p50 ms | p99 ms | unexpected | CPU µs/req | peak RSS MB |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of [...rows, ...(large ?? [])]) {
    console.log(
      `| ${row.name} | ${row.rps} | ${row.ratio ?? '–'} | ${row.p50} | ${row.p99} | ${row.unexpected} | ${row.cpuUsPerRequest} | ${row.peakRssMb} |`,
    );
  }
  console.log(`\n${JSON.stringify(summary, null, 2)}`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const file = join(
    ROOT,
    'bench/results',
    `${new Date().toISOString().slice(0, 10)}${LARGE ? '-large' : ''}.json`,
  );
  writeFileSync(
    file,
    `${JSON.stringify({ machine, seconds: SECONDS, connections: CONNECTIONS, pinned: PINNED, databaseUrl: databaseUrl.split(':')[0], rows, large, summary }, null, 2)}\n`,
  );
  console.log(`\nwritten to ${file}`);
} finally {
  for (const server of servers) await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** 100,000 users and 1,000,000 posts: first page, a deep cursor page and a search, against the small run. */
async function runLarge(small: Row[]): Promise<Row[]> {
  const largeDir = mkdtempSync(join(tmpdir(), 'inkgate-bench-large-'));
  try {
    const databaseUrl = process.env.BENCH_DATABASE_URL ?? `sqlite:${join(largeDir, 'large.db')}`;
    const env = inkgateEnv(databaseUrl, secrets);
    console.error('seeding 100,000 users and 1,000,000 posts (minutes) …');
    const seeded = await seed(
      loadConfig(env),
      { users: 100_000, tokensPerUser: 0, posts: 1_000_000 },
      (line) => console.error(`  ${line}`),
    );
    const server = await start('src/main.ts', env, '/healthz');
    try {
      // Deep pages and searches from 10,000 places in the middle of the million: past the list cache.
      const deep = seeded.cursors.slice(400_000, 600_000).filter((_, i) => i % 20 === 0);
      const rows = [
        await measure({
          name: 'large: W2 first page, 1,000,000 posts (list cache as in production)',
          server,
          path: '/posts?limit=20',
        }),
        await measure({
          name: 'large: W2c deep cursor pages, 10,000 distinct',
          server,
          path: '/posts',
          rotate: deep.map((cursor) => ({ path: `/posts?limit=20&cursor=${cursor}` })),
        }),
        await measure({
          name: `large: W2qc GET /posts?q=${SEARCH_WORD} from 10,000 deep cursors`,
          server,
          path: '/posts',
          rotate: deep.map((cursor) => ({ path: `/posts?q=${SEARCH_WORD}&cursor=${cursor}` })),
        }),
        // A tag's list and page at a million posts: post i has tag i % TAGS, so these cursors are its own.
        await measure({
          name: 'large: W11c GET /posts?tag= from 10,000 deep cursors',
          server,
          path: '/posts',
          rotate: deep.map((cursor, i) => ({
            path: `/posts?tag=${seeded.tags[(400_000 + i * 20) % TAGS]}&cursor=${cursor}`,
          })),
        }),
        await measure({
          name: 'large: W12 GET /tag/{slug} pages from 10,000 deep cursors',
          server,
          path: '/',
          rotate: deep.map((cursor, i) => ({
            path: `/tag/${seeded.tags[(400_000 + i * 20) % TAGS]}?cursor=${cursor}`,
          })),
        }),
      ];
      const w2 = small.find((row) => row.name.startsWith('W2 '))!;
      const w2c = small.find((row) => row.name.startsWith('W2c'))!;
      const w2qc = small.find((row) => row.name.startsWith('W2qc'))!;
      const w11c = small.find((row) => row.name.startsWith('W11c'))!;
      for (const [row, reference] of [
        [rows[0]!, w2],
        [rows[1]!, w2c],
        [rows[2]!, w2qc],
        [rows[3]!, w11c],
        [rows[4]!, w11c],
      ] as const) {
        row.name += ` (p99 ${(row.p99 / Math.max(1, reference.p99)).toFixed(2)} × the 1,000-post figure)`;
      }
      return rows;
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(largeDir, { recursive: true, force: true });
  }
}
