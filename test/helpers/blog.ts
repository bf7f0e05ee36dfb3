import assert from 'node:assert/strict';
import { type AuditTrail, createAuditTrail } from '../../src/audit/trail.ts';
import { scheduledJobs } from '../../src/server.ts';
import { bearer, type TestApp } from './app.ts';

/** POST /posts as `token`; asserts 201 and answers the post (and its ETag). */
export async function writePost(testApp: TestApp, token: string, payload: Record<string, unknown> = {}) {
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/posts',
    headers: bearer(token),
    payload: { title: 'A title', content: 'Some content', ...payload },
  });
  assert.equal(response.statusCode, 201, response.body);
  return Object.assign(response.json(), { etag: response.headers.etag as string });
}

/** A request as `token` (or none), answering the response. */
export function call(
  testApp: TestApp,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  token?: string,
  payload?: unknown,
  headers: Record<string, string> = {},
) {
  return testApp.app.inject({
    method,
    url,
    headers: { ...(token === undefined ? {} : bearer(token)), ...headers },
    ...(payload !== undefined && { payload: payload as Record<string, unknown> }),
  });
}

/** A reader page as a browser asks for it. */
export function browse(testApp: TestApp, url: string, headers: Record<string, string> = {}) {
  return testApp.app.inject({
    method: 'GET',
    url,
    headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', ...headers },
  });
}

/** Runs one of the scheduler's jobs as it would run at `now`. */
export async function runJob(testApp: TestApp, name: string, now: Date): Promise<Record<string, number>> {
  const trail: AuditTrail = createAuditTrail({ db: testApp.database.db, clock: testApp.clock });
  const job = scheduledJobs(testApp.config, testApp.database, trail).find((j) => j.name === name);
  assert.ok(job, name);
  return job.run(now);
}

/** Runs the scheduler's publishing job as it would run at `now`. */
export const publishDue = (testApp: TestApp, now: Date) => runJob(testApp, 'publish-scheduled-posts', now);

/** Payloads a post or comment may carry; none may come out of a page or feed as markup. */
export const XSS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '"><svg onload=alert(1)>',
  "'><iframe srcdoc='<script>alert(1)</script>'>",
  '[x](javascript:alert(1))',
  '[x](&#106;avascript&#58;alert(1))',
  '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '![x](https://ok.example/a.png" onerror="alert(1))',
  '<a id="comments-heading" name="x">clobber</a>',
];
