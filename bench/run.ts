/**
 * npm run bench: starts the real server on a temporary SQLite database (or BENCH_DATABASE_URL), seeds it,
 * and drives each workload with autocannon over loopback. Figures are reported as ratios to the
 * baseline (GET /healthz: Fastify with no auth and no database) measured in the same run, since
 * absolute numbers on a shared 2-core machine move from run to run.
 *
 *   BENCH_SECONDS=5 BENCH_CONNECTIONS=10 npm run bench
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';

const ROOT = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

interface Workload {
  name: string;
  method?: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  connections?: number;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

/** The server as it runs in production: its own process, logging one line per request. */
async function startServer(databaseUrl: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'src/main.ts')], {
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'info', DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (
      await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function call(url: string, init: RequestInit) {
  const response = await fetch(url, init);
  if (!response.ok)
    throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? undefined : response.json();
}

async function seed(base: string) {
  const password = 'benchmark passphrase';
  await call(`${base}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bench', email: 'bench@example.com', password }),
  });
  const login = (await call(`${base}/token`, {
    method: 'POST',
    body: new URLSearchParams({ username: 'bench', password }),
  })) as { access_token: string };
  const auth = { authorization: `Bearer ${login.access_token}` };
  for (let i = 0; i < 200; i += 1) {
    await call(`${base}/posts`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ title: `Post number ${i}`, content: `Content of post ${i}. `.repeat(20) }),
    });
  }
  return { auth, password };
}

async function run(base: string, workload: Workload) {
  const result = await autocannon({
    url: `${base}${workload.path}`,
    method: workload.method ?? 'GET',
    headers: workload.headers,
    body: workload.body,
    connections: workload.connections ?? CONNECTIONS,
    duration: SECONDS,
  });
  const bad = result.non2xx + result.errors + result.timeouts;
  return {
    name: workload.name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    bad,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'inkgate-bench-'));
const server = await startServer(process.env.BENCH_DATABASE_URL ?? `sqlite:${join(dir, 'bench.db')}`);
try {
  const { auth, password } = await seed(server.url);
  const workloads: Workload[] = [
    { name: 'GET /healthz (baseline: no auth, no database)', path: '/healthz' },
    { name: 'GET /posts?limit=20 (public page, 1 query)', path: '/posts?limit=20' },
    { name: 'GET /posts/{id} (public read, 1 query)', path: '/posts?limit=1' },
    { name: 'GET /users/me (bearer JWT check + 1 query)', path: '/users/me', headers: auth },
    {
      name: 'POST /token (Argon2id verify, m=19 MiB t=2)',
      method: 'POST',
      path: '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'bench', password }).toString(),
      connections: 4,
    },
  ];
  const first = (await call(`${server.url}/posts?limit=1`, {})) as { data: Array<{ id: string }> };
  workloads[2]!.path = `/posts/${first.data[0]!.id}`;

  const rows = [];
  for (const workload of workloads) rows.push(await run(server.url, workload));
  const baseline = rows[0]!.rps;
  console.log(`\n${SECONDS} s per workload, ${CONNECTIONS} connections (4 for /token), one server process\n`);
  console.log('| workload | req/s | ratio to baseline | p50 ms | p99 ms | non-2xx/errors |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    console.log(
      `| ${row.name} | ${Math.round(row.rps)} | ${(row.rps / baseline).toFixed(2)} | ${row.p50} | ${row.p99} | ${row.bad} |`,
    );
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
