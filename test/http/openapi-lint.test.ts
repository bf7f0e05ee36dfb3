import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { buildTestApp } from '../helpers/app.ts';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const root = new URL('../..', import.meta.url).pathname;
const REDOCLY = require.resolve('@redocly/cli/bin/cli.js');
const SPECTRAL = join(require.resolve('@stoplight/spectral-cli/package.json'), '..', 'dist/index.js');

// biome-ignore lint/suspicious/noExplicitAny: a JSON document the test takes apart at will
type Document = Record<string, any>;

/** The whole document: with the opt-in RealWorld API mounted, so that its operations are linted too. */
async function servedDocument(t: TestContext): Promise<Document> {
  const testApp = await buildTestApp(t, { env: { REALWORLD_API: 'on' } });
  const response = await testApp.app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(response.statusCode, 200);
  return response.json();
}

function writeDocument(t: TestContext, document: Document): string {
  const dir = mkdtempSync(join(tmpdir(), 'inkgate-openapi-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'openapi.json');
  writeFileSync(file, JSON.stringify(document, null, 2));
  return file;
}

/** What a linter's CLI reports, whatever its exit status (non-zero when it found something). */
async function output(args: string[]): Promise<string> {
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' };
  try {
    return (await run(process.execPath, args, { cwd: root, env, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (error) {
    const { stdout } = error as { stdout?: string };
    if (stdout) return stdout;
    throw error;
  }
}

/** Spectral with the committed ruleset: each finding as `code at path`. */
async function spectral(file: string): Promise<string[]> {
  const stdout = await output([
    SPECTRAL,
    'lint',
    file,
    '--ruleset',
    '.spectral.mjs',
    '--format',
    'json',
    '--quiet',
  ]);
  const results = JSON.parse(stdout.slice(0, stdout.lastIndexOf(']') + 1)) as Array<{
    code: string;
    path: string[];
  }>;
  return results.map((result) => `${result.code} at ${result.path.join('.')}`);
}

/** Redocly with the committed redocly.yaml: each finding as `rule at pointer`. */
async function redocly(file: string): Promise<string[]> {
  const stdout = await output([REDOCLY, 'lint', file, '--config', 'redocly.yaml', '--format', 'json']);
  const report = JSON.parse(stdout) as {
    problems: Array<{ ruleId: string; location: Array<{ pointer: string }> }>;
  };
  return report.problems.map((problem) => `${problem.ruleId} at ${problem.location[0]?.pointer}`);
}

test('the OpenAPI document passes Redocly (recommended) and Spectral (spectral:oas, OWASP API Top 10 2023) with no error and no warning [API9:2023] [API4:2023]', async (t) => {
  const file = writeDocument(t, await servedDocument(t));
  const [spectralFindings, redoclyFindings] = await Promise.all([spectral(file), redocly(file)]);
  assert.deepEqual(spectralFindings, []);
  assert.deepEqual(redoclyFindings, []);
});

test('the rules narrowed in .spectral.mjs still catch what they are there for', async (t) => {
  const document = await servedDocument(t);
  const createPost = document.paths['/posts'].post;
  // An unbounded request string, a limited route that forgets its RateLimit header, a protected
  // operation without its 401, a body without its validation errors, a credential in an API URL.
  delete createPost.requestBody.content['application/json'].schema.properties.title.maxLength;
  delete createPost.responses['201'].headers.RateLimit;
  delete document.paths['/posts/{id}'].delete.responses['401'];
  delete document.paths['/posts/{id}'].put.responses['400'];
  delete document.paths['/posts/{id}'].put.responses['422'];
  document.paths['/posts'].get.parameters.push({
    name: 'access_token',
    in: 'query',
    schema: { type: 'string', maxLength: 2000, pattern: '^[A-Za-z0-9._-]+$' },
  });
  const findings = await spectral(writeDocument(t, document));
  const codes = [...new Set(findings.map((finding) => finding.split(' at ')[0]))].sort();
  assert.deepEqual(codes, [
    'owasp:api2:2023-no-credentials-in-url',
    'owasp:api4:2023-rate-limit',
    'owasp:api4:2023-string-limit',
    'owasp:api8:2023-define-error-responses-401',
    'owasp:api8:2023-define-error-validation',
  ]);
  assert.ok(
    findings.includes(
      'owasp:api4:2023-string-limit at paths./posts.post.requestBody.content.application/json.schema.properties.title',
    ),
    findings.join('\n'),
  );
});
