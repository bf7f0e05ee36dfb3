import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bearer, buildTestApp, createStorage, createUser, loginPair } from '../helpers/app.ts';
import { startProxy } from '../helpers/proxy.ts';

test('PostgreSQL outage: 503 with Retry-After within 5 s, /healthz stays up, service resumes without a restart', {
  skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL',
}, async (t) => {
  const direct = new URL(await createStorage(t, 'postgres'));
  const proxy = await startProxy(direct.hostname, Number(direct.port || 5432));
  t.after(() => proxy.close());
  const viaProxy = new URL(direct);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const testApp = await buildTestApp(t, { engine: 'postgres', url: viaProxy.toString() });

  const user = await createUser(testApp);
  const { access_token } = await loginPair(testApp, user);
  const written = await testApp.app.inject({
    method: 'POST',
    url: '/posts',
    headers: bearer(access_token),
    payload: { title: 'Written before the outage', content: 'acknowledged' },
  });
  assert.equal(written.statusCode, 201);

  for (const mode of ['refuse', 'hang'] as const) {
    proxy.set(mode);
    // Past the session cache's one second, so that the guard has to ask the database too.
    testApp.clock.advance(1100);
    for (const [method, url, headers] of [
      ['GET', '/posts', {}],
      ['GET', '/users/me', bearer(access_token)],
      ['POST', '/token', { 'content-type': 'application/x-www-form-urlencoded' }],
    ] as const) {
      const started = performance.now();
      const response = await testApp.app.inject({
        method,
        url,
        headers,
        ...(method === 'POST' && {
          payload: `username=${user.username}&password=${encodeURIComponent(user.password)}`,
        }),
      });
      const seconds = (performance.now() - started) / 1000;
      assert.equal(response.statusCode, 503, `${mode}: ${method} ${url}: ${response.body}`);
      assert.equal(response.headers['retry-after'], '5');
      assert.ok(seconds < 5, `${mode}: ${method} ${url} answered in ${seconds.toFixed(1)} s`);
    }
    const ready = await testApp.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 503, mode);
    assert.equal((await testApp.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, mode);
  }

  proxy.set('pass');
  const back = await testApp.app.inject({ method: 'GET', url: '/posts' });
  assert.equal(back.statusCode, 200);
  assert.deepEqual(
    back.json().data.map((p: { title: string }) => p.title),
    ['Written before the outage'],
  );
  assert.equal((await testApp.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
});
