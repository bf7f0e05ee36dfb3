import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../helpers/net.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** The README's shell blocks that call the API (```sh blocks with curl), in order. */
function curlBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  const fence = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (let match = fence.exec(markdown); match; match = fence.exec(markdown)) {
    const [, language, body] = match;
    if ((language === 'sh' || language === 'bash') && /\bcurl\b/.test(body!)) blocks.push(body!);
  }
  return blocks;
}

test('README: every curl block runs as pasted, in order, against a fresh server, and no answer is an error', async (t) => {
  const blocks = curlBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  assert.ok(blocks.length >= 4, `the README's curl blocks: ${blocks.length}`);
  const dir = mkdtempSync(join(tmpdir(), 'inkgate-readme-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const server = spawn(process.execPath, [join(ROOT, 'src/main.ts')], {
    cwd: dir,
    env: {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: 'sqlite:./data/inkgate.db',
      ADMIN_USERNAME: 'admin',
      ADMIN_EMAIL: 'admin@example.com',
      ADMIN_PASSWORD: 'an admin passphrase',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    server.kill('SIGTERM');
  });
  let serverOutput = '';
  server.stdout.on('data', (chunk) => {
    serverOutput += chunk;
  });
  server.stderr.on('data', (chunk) => {
    serverOutput += chunk;
  });
  for (let i = 0; ; i += 1) {
    const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (up) break;
    if (i > 100) throw new Error(`the server did not start: ${serverOutput}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  // As pasted, but for the port: the README's server listens on 8000, this one where it could.
  const script = ['set -euo pipefail', ...blocks]
    .join('\n')
    .replaceAll('127.0.0.1:8000', `127.0.0.1:${port}`);
  const shell = spawn('bash', ['-c', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  shell.stdout.on('data', (chunk) => {
    output += chunk;
  });
  shell.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const code = await new Promise((r) => shell.on('exit', r));
  assert.equal(code, 0, output);
  // No answer was a problem document or an OAuth error, and every step the README marks did happen.
  assert.doesNotMatch(output, /"type":"about:blank"|"error":"/, output);
  assert.doesNotMatch(output, /HTTP\/1\.1 [45]\d\d/, output);
  const statuses = output.match(/HTTP\/1\.1 \d{3}/g) ?? [];
  // DELETE the post, log a session out, revoke, change the password, log out everywhere, revoke a
  // personal token, reset, verify.
  assert.equal(statuses.length, 8, `the marked steps: ${statuses.join(', ')}`);
  assert.match(output, /"title":"Hello again"/, 'the post was edited');
  assert.match(output, /"type":"login_succeeded"/, 'the security events were read');
  assert.match(output, /"type":"password_reset_completed"/, 'the admin’s audit query found the reset');
  assert.match(output, /"type":"password_changed"/, 'and the password change');
});
