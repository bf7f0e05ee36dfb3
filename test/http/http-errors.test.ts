import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bearer, buildTestApp, captureLogs, signedIn } from '../helpers/app.ts';

const PROBLEM = 'application/problem+json; charset=utf-8';

test('malformed JSON is 400, an empty JSON body is 400, prototype poisoning is 400', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  for (const payload of [
    '{"title": "x", ',
    '{title: x}',
    '',
    '{"__proto__": {"role": "admin"}, "title": "t", "content": "c"}',
  ]) {
    const response = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload,
    });
    assert.equal(response.statusCode, 400, payload);
    assert.equal(response.headers['content-type'], PROBLEM);
    const body = response.json();
    assert.equal(body.title, 'Bad Request');
    assert.doesNotMatch(body.detail, /Unexpected|position|FST_/, 'no parser internals');
  }
});

test('a JSON body that is not valid UTF-8 is 400 (RFC 8259 §8.1) and stores nothing', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  for (const bytes of [
    Buffer.concat([Buffer.from('{"title": "caf'), Buffer.from([0xe9]), Buffer.from('", "content": "c"}')]),
    Buffer.concat([Buffer.from('{"title": "t", "content": "'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
    Buffer.concat([
      Buffer.from('{"title": "t", "content": "'),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from('"}'),
    ]),
  ]) {
    const response = await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload: bytes,
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.headers['content-type'], PROBLEM);
    assert.equal(response.json().detail, 'the body is not valid UTF-8 (RFC 8259 §8.1)');
  }
  const valid = await testApp.app.inject({
    method: 'POST',
    url: '/posts',
    headers: { ...bearer(token), 'content-type': 'application/json; charset=utf-8' },
    payload: Buffer.from('{"title": "café ☕", "content": "ünïcödé 𝄞"}'),
  });
  assert.equal(valid.statusCode, 201);
  assert.equal(valid.json().title, 'café ☕');
  const count = await testApp.database.db.selectFrom('posts').select('id').execute();
  assert.equal(count.length, 1, 'only the valid one was stored');
});

test('errors Fastify raises itself are problem documents with the security headers and x-request-id [RFC9457]', async (t) => {
  const testApp = await buildTestApp(t);
  const long = 'x'.repeat(201);
  const tooLong = await testApp.app.inject({ method: 'GET', url: `/posts/${long}` });
  assert.equal(tooLong.statusCode, 414);
  assert.equal(tooLong.headers['content-type'], PROBLEM);
  assert.deepEqual(tooLong.json(), {
    type: 'about:blank',
    title: 'URI Too Long',
    status: 414,
    detail: 'a path segment is longer than 200 characters',
    code: 'uri_too_long',
  });
  assert.ok(!tooLong.body.includes(long), 'the URL is not echoed');
  const badUrl = await testApp.app.inject({ method: 'GET', url: '/posts/%E0%A4%A' });
  assert.equal(badUrl.statusCode, 400);
  assert.equal(badUrl.headers['content-type'], PROBLEM);
  for (const response of [tooLong, badUrl]) {
    assert.match(String(response.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(response.headers['x-frame-options'], 'DENY');
    assert.match(String(response.headers['content-security-policy']), /default-src 'none'/);
  }
});

test('while the server closes, a new request is 503, a problem document with Retry-After', async (t) => {
  const testApp = await buildTestApp(t);
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  testApp.app.addHook('preClose', async () => gate);
  const base = await testApp.app.listen({ port: 0, host: '127.0.0.1' });
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  const closing = testApp.app.close();
  await new Promise((resolve) => setImmediate(resolve));
  // Still listening while it drains (the load balancer has not noticed yet): a real socket asks.
  const during = await fetch(`${base}/healthz`);
  const body = (await during.json()) as { detail: string };
  release();
  await closing;
  assert.equal(during.status, 503);
  assert.equal(during.headers.get('content-type'), PROBLEM);
  assert.equal(during.headers.get('retry-after'), '5');
  assert.equal(during.headers.get('connection'), 'close');
  assert.equal(during.headers.get('x-frame-options'), 'DENY');
  assert.match(String(during.headers.get('x-request-id')), /^[0-9a-f-]{36}$/);
  assert.equal(body.detail, 'the server is shutting down; try again');
});

test('a body over 64 KiB is 413 [API4:2023]', async (t) => {
  const testApp = await buildTestApp(t);
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/users',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ username: 'big', email: 'big@example.com', password: 'x'.repeat(70_000) }),
  });
  assert.equal(response.statusCode, 413);
  assert.equal(response.headers['content-type'], PROBLEM);
  assert.equal(response.json().detail, 'the request body is larger than 64 KiB');
});

test('a Content-Type other than JSON is 415 on JSON routes, form bodies included', async (t) => {
  const testApp = await buildTestApp(t);
  for (const contentType of [
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/xml',
    'multipart/form-data; boundary=x',
  ]) {
    const response = await testApp.app.inject({
      method: 'POST',
      url: '/users',
      headers: { 'content-type': contentType },
      payload: 'username=eve&email=eve@example.com&password=long+enough+pw',
    });
    assert.equal(response.statusCode, 415, contentType);
    assert.equal(response.headers['content-type'], PROBLEM);
    assert.equal(response.json().status, 415);
  }
});

test('unknown routes and methods are 404 problem documents [RFC9457]', async (t) => {
  const testApp = await buildTestApp(t);
  for (const [method, url] of [
    ['GET', '/nope'],
    ['PUT', '/users/me'],
    ['GET', '/posts/a/b'],
    ['POST', '/healthz'],
  ] as const) {
    const response = await testApp.app.inject({ method, url });
    assert.equal(response.statusCode, 404, `${method} ${url}`);
    assert.equal(response.headers['content-type'], PROBLEM);
    assert.deepEqual(response.json(), {
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'no route matches this method and path',
      code: 'route_not_found',
    });
  }
});

test('an unexpected error is a 500 problem without internals, logged with its cause [RFC9457]', async (t) => {
  const { logger, lines } = captureLogs();
  const testApp = await buildTestApp(t, { logger });
  // Break the database underneath the app: a query on a dropped table fails in a way no handler expects.
  await testApp.database.db.schema.dropTable('posts').execute();
  const response = await testApp.app.inject({ method: 'GET', url: '/posts' });
  assert.equal(response.statusCode, 500);
  assert.equal(response.headers['content-type'], PROBLEM);
  assert.deepEqual(response.json(), {
    type: 'about:blank',
    title: 'Internal Server Error',
    status: 500,
    detail: 'an unexpected error occurred; it has been logged',
    code: 'internal_error',
  });
  assert.ok(lines.some((line) => /"level":50/.test(line) && /no such table: posts/.test(line)));
});

test('security headers are on every answer, errors included [API8:2023]', async (t) => {
  const testApp = await buildTestApp(t);
  for (const url of ['/', '/nope', '/users/me', '/posts?limit=0']) {
    const response = await testApp.app.inject({ method: 'GET', url });
    assert.equal(response.headers['x-content-type-options'], 'nosniff', url);
    assert.equal(response.headers['x-frame-options'], 'DENY', url);
    assert.equal(response.headers['referrer-policy'], 'no-referrer', url);
    assert.match(String(response.headers['content-security-policy']), /default-src 'none'/, url);
    assert.match(String(response.headers['content-security-policy']), /frame-ancestors 'none'/, url);
    assert.match(String(response.headers['x-request-id']), /^[0-9a-f-]{36}$/, url);
  }
});

test('CORS: closed by default [API8:2023]', async (t) => {
  const testApp = await buildTestApp(t);
  const response = await testApp.app.inject({
    method: 'GET',
    url: '/posts',
    headers: { origin: 'https://evil.example' },
  });
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers['access-control-allow-origin'], undefined);
  const preflight = await testApp.app.inject({
    method: 'OPTIONS',
    url: '/posts',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(preflight.headers['access-control-allow-origin'], undefined);
});

test('CORS: open to the origins in CORS_ORIGINS only', async (t) => {
  const testApp = await buildTestApp(t, {
    env: { CORS_ORIGINS: 'https://app.example, https://admin.example' },
  });
  const allowed = await testApp.app.inject({
    method: 'OPTIONS',
    url: '/posts',
    headers: {
      origin: 'https://app.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type',
    },
  });
  assert.equal(allowed.statusCode, 204);
  assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example');
  assert.match(String(allowed.headers['access-control-allow-headers']), /authorization/);
  const read = await testApp.app.inject({
    method: 'GET',
    url: '/posts',
    headers: { origin: 'https://app.example' },
  });
  assert.equal(
    read.headers['access-control-expose-headers'],
    'location, ratelimit, ratelimit-policy, retry-after, www-authenticate, x-request-id',
    'a page on an allowed origin can read the limits, the challenge and the request id',
  );
  const other = await testApp.app.inject({
    method: 'GET',
    url: '/posts',
    headers: { origin: 'https://evil.example' },
  });
  assert.equal(other.headers['access-control-allow-origin'], undefined);
});
