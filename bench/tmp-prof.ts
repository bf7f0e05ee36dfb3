// Start inkgate under --cpu-prof with bench seeding, run one workload, print top functions.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { loadConfig } from '/work/main/src/config.ts';
import { seed } from '/work/main/bench/seed.ts';

const dir = mkdtempSync(join(tmpdir(), 'prof-'));
const env = { NODE_ENV: 'production', LOG_LEVEL: 'info', DATABASE_URL: `sqlite:${dir}/b.db`, ISSUER: 'http://127.0.0.1', JWT_SECRET: randomBytes(48).toString('base64'), KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), METRICS_TOKEN: 'm'.repeat(20), PORT: '45901' };
const seeded = await seed(loadConfig(env), { users: 1000, tokensPerUser: 10, posts: 1000 });
const which = process.argv[2] ?? 'w1';
const child = spawn('taskset', ['-c', '0', process.execPath, '--cpu-prof', `--cpu-prof-dir=${dir}`, '/work/main/src/main.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
for (;;) { if (await fetch('http://127.0.0.1:45901/healthz').then((r) => r.ok, () => false)) break; await new Promise((r) => setTimeout(r, 50)); }
const token = seeded.tokens[0]!;
let n = 0;
const opts: autocannon.Options = which === 'w2' ? { url: 'http://127.0.0.1:45901/posts?limit=20' } : which === 'w1b' ? { url: 'http://127.0.0.1:45901/users/me', requests: [{ setupRequest: (r) => ({ ...r, headers: { authorization: `Bearer ${seeded.tokens[n++ % seeded.tokens.length]}` } }) }] } : which === 'w4' ? { url: 'http://127.0.0.1:45901/users/me', headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` } } : { url: 'http://127.0.0.1:45901/users/me', headers: { authorization: `Bearer ${token}` } };
const r = await autocannon({ ...opts, connections: 32, duration: 5 });
console.log(which, Math.round(r.requests.average), 'req/s');
const mem = await (await fetch('http://127.0.0.1:45901/metrics', { headers: { authorization: `Bearer ${'m'.repeat(20)}` } })).text();
console.log(mem.split('\n').filter((l) => /^(process_resident_memory_bytes|nodejs_heap_size_total_bytes|nodejs_heap_size_used_bytes|nodejs_external_memory_bytes) /.test(l)).join('\n'));
child.kill('SIGINT');
await new Promise((r) => child.once('exit', r));
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!;
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
const self = new Map<string, number>();
const dt = profile.timeDeltas as number[];
const byId = new Map(profile.nodes.map((n: { id: number }) => [n.id, n]));
profile.samples.forEach((id: number, i: number) => {
  const node = byId.get(id) as { callFrame: { functionName: string; url: string; lineNumber: number } };
  const key = `${node.callFrame.functionName || '(anon)'} ${node.callFrame.url.replace(/.*node_modules\//, '').replace('file:///work/main/', '')}:${node.callFrame.lineNumber}`;
  self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
for (const [k, v] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(((v / total) * 100).toFixed(1).padStart(5), k);
