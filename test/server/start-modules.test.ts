import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('../../src/server.ts', import.meta.url));

/**
 * What a process holds once it has imported everything `npm start` imports (src/server.ts, the
 * app and every route), before serving: the packages it loaded and Node's own modules.
 */
function modulesAtStart(): { urls: string[]; packages: string[]; builtins: string[] } {
  const child = `
    import { registerHooks } from 'node:module';
    const urls = [];
    registerHooks({ load(url, context, next) { urls.push(url); return next(url, context); } });
    await import(${JSON.stringify(SERVER)});
    const packages = new Set(urls.flatMap((url) => url.match(/node_modules\\/((?:@[^/]+\\/)?[^/]+)/)?.[1] ?? []));
    process.stdout.write(JSON.stringify({ urls, packages: [...packages], builtins: process.moduleLoadList }));
  `;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8' }),
  );
}

test('a start loads no package that only some requests need, and not undici', () => {
  const { urls, packages, builtins } = modulesAtStart();
  assert.ok(
    packages.includes('fastify') && packages.includes('kysely'),
    `the hook saw the start: ${packages}`,
  );
  // Loaded when first used (src/lazy-module.ts): mail, Markdown, QR codes, passkeys, Redis, PostgreSQL.
  // TypeBox is types only (src/http/json-schema.ts builds the schemas).
  for (const name of [
    'typebox',
    'nodemailer',
    'markdown-it',
    'sanitize-html',
    'qrcode',
    '@simplewebauthn/server',
    'ioredis',
    'pg',
  ]) {
    assert.ok(!packages.includes(name), `${name} is loaded at start`);
  }
  // Kysely from its CommonJS build only (src/db/kysely.ts): one copy of its classes, the cheaper one.
  const kysely = urls.filter((url) => url.includes('/node_modules/kysely/'));
  assert.ok(kysely.length > 100, `${kysely.length} of Kysely's modules seen`);
  assert.deepEqual(
    kysely.filter((url) => !url.includes('/kysely/dist/cjs/')),
    [],
  );
  // Node's fetch and WebSocket (undici) come with an ES import of node:http's whole namespace.
  assert.deepEqual(
    builtins.filter((name) => /undici/.test(name)),
    [],
  );
});
