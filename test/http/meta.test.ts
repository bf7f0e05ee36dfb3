import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bearer,
  buildTestApp,
  captureLogs,
  createUser,
  login,
  signedIn,
  unreadableFeed,
} from '../helpers/app.ts';

test('GET /: the welcome message and where the docs are', async (t) => {
  const testApp = await buildTestApp(t);
  const response = await testApp.app.inject({ method: 'GET', url: '/' });
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(response.json(), { message: 'Welcome to your blog!', docs: '/docs' });
});

test('GET /healthz and /readyz: 200 while up; /readyz is 503 with Retry-After when the database is gone', async (t) => {
  const testApp = await buildTestApp(t);
  assert.deepEqual((await testApp.app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
  const ready = await testApp.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json(), { status: 'ok' });

  await testApp.database.close();
  const notReady = await testApp.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(notReady.statusCode, 503);
  assert.equal(notReady.headers['retry-after'], '5');
  assert.equal(notReady.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(notReady.json().detail, 'the database is not answering');
  const health = await testApp.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(health.statusCode, 200, 'liveness does not depend on the database');
});

test('GET /metrics: Prometheus text with requests by route template and status, and logins', async (t) => {
  const testApp = await buildTestApp(t);
  const { token } = await signedIn(testApp);
  await testApp.app.inject({ method: 'GET', url: '/posts/01a204c7-66c1-742b-a8b0-af08bd300cf0' });
  await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
  await testApp.app.inject({ method: 'GET', url: '/definitely/not/here' });
  const response = await testApp.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.match(response.body, /http_requests_total\{method="GET",route="\/posts\/:id",status_code="404"\} 1/);
  assert.match(response.body, /http_requests_total\{method="GET",route="\/users\/me",status_code="200"\} 1/);
  assert.match(response.body, /http_requests_total\{method="GET",route="unmatched",status_code="404"\} 1/);
  assert.match(
    response.body,
    /http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/token",status_code="200"\}/,
  );
  assert.match(response.body, /inkgate_logins_total\{result="success"\} 1/);
  assert.doesNotMatch(response.body, /definitely/, 'raw URLs never become labels');
});

for (const [feed, gauge] of [
  ['sessionFeed', 'inkgate_session_feed_age_seconds'],
  ['contentFeed', 'inkgate_content_feed_age_seconds'],
] as const) {
  test(`GET /metrics: how long ago the ${feed} was last read (${gauge}); +Inf while it never could`, async (t) => {
    // A feed that answers (with nothing) until it is shut, so no look after that moves the figure.
    let open = true;
    const testApp = await buildTestApp(t, {
      [feed]: {
        look: async () => {
          if (!open) throw new Error('shut');
          return { changes: [], complete: true };
        },
      },
    });
    await testApp.app.ready();
    await Promise.all([testApp.app.sessionsCaughtUp(), testApp.app.contentCaughtUp()]);
    open = false;
    testApp.clock.advance(1500);
    const scrape = await testApp.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(scrape.body, new RegExp(`^${gauge} 1\\.5$`, 'm'));

    const blind = await buildTestApp(t, { [feed]: unreadableFeed });
    await Promise.all([blind.app.sessionsCaughtUp(), blind.app.contentCaughtUp()]);
    const none = await blind.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(none.body, new RegExp(`^${gauge} \\+Inf$`, 'm'));
  });
}

test('METRICS=off removes /metrics', async (t) => {
  const testApp = await buildTestApp(t, { env: { METRICS: 'off' } });
  assert.equal((await testApp.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
});

test('GET /docs: Swagger UI from the package’s own files, under a policy that allows nothing from elsewhere [API8:2023]', async (t) => {
  const testApp = await buildTestApp(t);
  const page = await testApp.app.inject({ method: 'GET', url: '/docs/' });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.body, /swagger-ui/);
  assert.doesNotMatch(page.body, /https?:\/\/(?!www\.w3\.org)/, 'no CDN');
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /script-src 'self';/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /https:|unsafe-eval|\*/);
  const bundle = await testApp.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
  assert.equal(bundle.statusCode, 200);
  const redirect = await testApp.app.inject({ method: 'GET', url: '/docs' });
  assert.ok([200, 302].includes(redirect.statusCode));
});

test('GET /openapi.json: OpenAPI 3.1 with every route, its security, and the password flow [API9:2023]', async (t) => {
  const testApp = await buildTestApp(t);
  const response = await testApp.app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(response.statusCode, 200);
  const doc = response.json();
  assert.equal(doc.openapi, '3.1.0');
  assert.match(
    doc.components.securitySchemes.OAuth2PasswordBearer.description,
    /Sign up with POST \/users first/,
  );
  assert.deepEqual(doc.components.securitySchemes.OAuth2PasswordBearer, {
    type: 'oauth2',
    description: doc.components.securitySchemes.OAuth2PasswordBearer.description,
    flows: {
      authorizationCode: {
        authorizationUrl: '/authorize',
        tokenUrl: '/token',
        refreshUrl: '/token',
        scopes: {
          profile: 'Read and change your own account',
          'posts:write': 'Create, change and delete your own posts; favourite posts and follow authors',
          'comments:write': 'Write, change and delete your own comments',
          admin: 'Manage users and any post',
        },
      },
      password: {
        tokenUrl: '/token',
        refreshUrl: '/token',
        scopes: {
          profile: 'Read and change your own account',
          'posts:write': 'Create, change and delete your own posts; favourite posts and follow authors',
          'comments:write': 'Write, change and delete your own comments',
          admin: 'Manage users and any post',
        },
      },
    },
  });
  const operations = Object.entries(
    doc.paths as Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>,
  ).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })),
  );
  const open = [
    'GET /',
    'GET /author/{username}',
    'GET /author/{username}/feed.atom',
    'GET /feed.atom',
    'GET /p/{slug}',
    'GET /robots.txt',
    'GET /sitemap.xml',
    'GET /sitemap/{name}.xml',
    'GET /tag/{slug}',
    'GET /tag/{slug}/feed.atom',
    'GET /tags',
    'GET /.well-known/jwks.json',
    'GET /.well-known/oauth-authorization-server',
    'GET /account/login',
    'GET /account/login/second-factor',
    'GET /account/logout',
    'GET /account/passkeys.js',
    'GET /account/reset-password',
    'GET /account/security',
    'GET /account/verify-email',
    'GET /authorize',
    'GET /healthz',
    'GET /metrics',
    'GET /readyz',
    'POST /account/consent',
    'POST /account/login',
    'POST /account/login/second-factor',
    'POST /account/logout',
    'POST /account/passkey',
    'POST /account/passkey/options',
    'POST /account/reset-password',
    'POST /account/security/passkeys',
    'POST /account/security/passkeys/options',
    'POST /account/security/passkeys/remove',
    'POST /account/security/recovery-codes',
    'POST /account/security/totp',
    'POST /account/security/totp/confirm',
    'POST /account/security/totp/remove',
    'POST /account/verify-email',
    'POST /authorize',
    'POST /email-verifications/confirm',
    'POST /password-resets',
    'POST /password-resets/confirm',
    'POST /token',
    'POST /token/revoke',
    'POST /users',
  ];
  // Public, with more in the answer for a caller who sends a token (favorited, following, pending comments).
  const optionalRoutes = [
    'GET /authors/{username}',
    'GET /posts',
    'GET /posts/slug/{slug}',
    'GET /posts/{id}',
    'GET /posts/{id}/comments',
  ];
  const protectedRoutes = [
    'DELETE /authors/{username}/follow',
    'DELETE /comments/{id}',
    'DELETE /oauth-clients/{client_id}',
    'DELETE /posts/{id}',
    'DELETE /posts/{id}/favorite',
    'DELETE /users/me',
    'DELETE /users/me/authorizations/{client_id}',
    'DELETE /users/me/mfa/totp',
    'DELETE /users/me/passkeys/{id}',
    'DELETE /users/me/sessions',
    'DELETE /users/me/sessions/{id}',
    'DELETE /users/me/tokens/{id}',
    'DELETE /users/{id}',
    'DELETE /users/{id}/mfa',
    'GET /audit-events',
    'GET /oauth-clients',
    'GET /oauth-clients/{client_id}',
    'GET /users',
    'GET /users/me',
    'GET /users/me/authorizations',
    'GET /users/me/feed',
    'GET /users/me/mfa',
    'GET /users/me/passkeys',
    'GET /users/me/posts',
    'GET /users/me/security-events',
    'GET /users/me/sessions',
    'GET /users/me/tokens',
    'GET /users/{id}',
    'PATCH /comments/{id}',
    'PATCH /oauth-clients/{client_id}',
    'PATCH /posts/{id}',
    'PATCH /users/me',
    'PATCH /users/me/passkeys/{id}',
    'PATCH /users/{id}',
    'POST /email-verifications',
    'POST /oauth-clients',
    'POST /oauth-clients/{client_id}/secret',
    'POST /posts',
    'POST /posts/{id}/comments',
    'POST /users/me/mfa/recovery-codes',
    'POST /users/me/mfa/totp',
    'POST /users/me/mfa/totp/confirm',
    'POST /users/me/passkeys',
    'POST /users/me/passkeys/options',
    'POST /users/me/password',
    'POST /users/me/tokens',
    'PUT /authors/{username}/follow',
    'PUT /posts/{id}',
    'PUT /posts/{id}/favorite',
  ];
  assert.deepEqual(
    operations.map((o) => o.key).sort(),
    [...open, ...optionalRoutes, ...protectedRoutes].sort(),
    'every route is documented',
  );
  const requirements = (o: (typeof operations)[number]) =>
    (o.op.security ?? []) as Array<Record<string, unknown>>;
  const secured = operations
    .filter((o) => requirements(o).length > 0 && requirements(o).every((r) => Object.keys(r).length > 0))
    .map((o) => o.key);
  const optional = operations
    .filter((o) => requirements(o).some((r) => Object.keys(r).length === 0) && requirements(o).length > 1)
    .map((o) => o.key);
  assert.deepEqual(optional.sort(), optionalRoutes, 'a token is optional on exactly these');
  for (const { key, op } of operations) {
    assert.ok(Array.isArray(op.security), `${key} declares its security, [] when public`);
    assert.match(
      String((op as { operationId?: string }).operationId),
      /^(get|post|put|patch|delete)[A-Z]/,
      key,
    );
  }
  // Redocly's operation-2xx-response is off for the pages' POST-redirect-GET forms only (redocly.yaml).
  const redirectOnly = [
    'POST /account/consent',
    'POST /account/login',
    'POST /account/login/second-factor',
    'POST /account/logout',
    'POST /account/passkey',
  ];
  for (const { key, op } of operations) {
    const has2xx = Object.keys(op.responses).some((status) => /^2\d\d$/.test(status));
    assert.equal(has2xx, !redirectOnly.includes(key), `${key}: a 2xx answer, unless a page form's 303`);
  }
  const ids = operations.map((o) => (o.op as { operationId?: string }).operationId);
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  assert.deepEqual(doc.servers, [{ url: '/', description: 'this server', 'x-internal': false }]);
  assert.match(doc.components.securitySchemes.OAuth2PasswordBearer.description, /RFC8725/);
  // The limited routes (API.md "Abuse limits") name their policy on every answer that was counted; every
  // 429 and 503 says when to retry.
  const limited = operations
    .filter(
      (o) =>
        (o.op.responses['429'] as { headers?: object } | undefined)?.headers &&
        'RateLimit-Policy' in (o.op.responses['429'] as { headers: object }).headers,
    )
    .map((o) => o.key)
    .sort();
  assert.deepEqual(limited, [
    'DELETE /posts/{id}',
    'PATCH /posts/{id}',
    'PATCH /users/me',
    'POST /account/passkey/options',
    'POST /account/security/passkeys/options',
    'POST /email-verifications',
    'POST /password-resets',
    'POST /posts',
    'POST /posts/{id}/comments',
    'POST /users',
    'POST /users/me/tokens',
    'PUT /posts/{id}',
  ]);
  for (const { key, op } of operations) {
    for (const [status, response] of Object.entries(
      op.responses as Record<string, { headers?: Record<string, { required?: boolean }> }>,
    )) {
      if (status === '429' || status === '503')
        assert.equal(response.headers?.['Retry-After']?.required, true, `${key} ${status}`);
      if (limited.includes(key) && (status.startsWith('2') || status === '429')) {
        assert.equal(response.headers?.RateLimit?.required, true, `${key} ${status} RateLimit`);
        assert.equal(
          response.headers?.['RateLimit-Policy']?.required,
          true,
          `${key} ${status} RateLimit-Policy`,
        );
      }
    }
  }
  assert.deepEqual(secured.sort(), protectedRoutes, 'exactly the protected routes declare security');
  for (const { key, op } of operations) {
    if (Array.isArray(op.security) && op.security.length > 0) {
      assert.ok(op.responses['401'], `${key} documents 401`);
    }
    // Each error's example is a problem document of that status (Swagger UI shows it under the route).
    for (const [status, response] of Object.entries(op.responses)) {
      const problem = (response as { content?: Record<string, { example?: { status?: number } }> }).content?.[
        'application/problem+json'
      ];
      if (problem) assert.equal(problem.example?.status, Number(status), `${key} ${status} example`);
    }
  }
  assert.deepEqual(doc.components.schemas.User.properties.disabled.examples, [false]);
  const token = doc.paths['/token'].post;
  assert.ok(
    token.requestBody.content['application/x-www-form-urlencoded'],
    'the token endpoint takes a form',
  );
  assert.ok(token.responses['400'].content['application/json']);
  assert.ok(doc.paths['/posts'].post.responses['422'].content['application/problem+json']);
  assert.ok(doc.components.schemas.Problem && doc.components.schemas.Post && doc.components.schemas.User);
  assert.doesNotMatch(response.body, /password_hash/);
});

test('OpenAPI: every request string, array and integer is bounded (OWASP API4:2023, bounded inputs) [API4:2023]', async (t) => {
  const testApp = await buildTestApp(t);
  const doc = (await testApp.app.inject({ method: 'GET', url: '/openapi.json' })).json();
  const unbounded: string[] = [];
  const walk = (node: unknown, where: string) => {
    if (!node || typeof node !== 'object') return;
    const schema = node as Record<string, unknown>;
    if (
      schema.type === 'string' &&
      schema.maxLength === undefined &&
      !schema.enum &&
      schema.const === undefined
    )
      unbounded.push(`${where}: string without maxLength`);
    if (schema.type === 'array' && schema.maxItems === undefined)
      unbounded.push(`${where}: array without maxItems`);
    if (schema.type === 'integer' && (schema.maximum === undefined || schema.format === undefined))
      unbounded.push(`${where}: integer without maximum and format`);
    for (const [key, value] of Object.entries(schema)) walk(value, `${where}/${key}`);
  };
  for (const [path, operations] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const [method, operation] of Object.entries(operations)) {
      const { requestBody, parameters } = operation as { requestBody?: unknown; parameters?: unknown };
      walk(requestBody, `${method} ${path} body`);
      walk(parameters, `${method} ${path} parameters`);
    }
  }
  assert.deepEqual(unbounded, []);
});

test('logs: one line per request with its id; no token, password or cookie ever appears', async (t) => {
  const { logger, lines } = captureLogs();
  const testApp = await buildTestApp(t, { logger });
  const user = await createUser(testApp, { password: 'secret-password-9471' });
  const response = await login(testApp, user);
  const token = response.json().access_token as string;
  lines.length = 0;
  const me = await testApp.app.inject({
    method: 'GET',
    url: '/users/me',
    headers: { ...bearer(token), cookie: 'session=cookie-value-3318' },
  });
  const requestLines = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'request');
  assert.equal(requestLines.length, 1);
  assert.equal(requestLines[0].reqId, me.headers['x-request-id']);
  assert.equal(requestLines[0].route, '/users/me');
  assert.equal(requestLines[0].statusCode, 200);
  assert.equal(requestLines[0].userId, user.id);

  // A logged object carrying credentials (as a careless log call might) is censored.
  testApp.app.log.info(
    { password: 'secret-password-9471', body: { new_password: 'x1' }, headers: { authorization: token } },
    'oops',
  );
  await login(testApp, { ...user, password: 'wrong-password-5522' });
  const all = lines.join('\n');
  assert.doesNotMatch(all, /secret-password-9471|wrong-password-5522|cookie-value-3318/);
  assert.ok(!all.includes(token.split('.')[2]!));
  assert.match(all, /\[redacted\]/);
});

test('the request log line redacts access_token, token, refresh_token and code in the query string', async (t) => {
  const { logger, lines } = captureLogs();
  const testApp = await buildTestApp(t, { logger });
  const { token } = await signedIn(testApp);
  lines.length = 0;
  await testApp.app.inject({
    method: 'GET',
    url: `/posts?access_token=${token}&limit=5&token=tok-4242&refresh_token=rt-4343&code=c-4444&q=hello`,
  });
  const [line] = lines.map((text) => JSON.parse(text)).filter((entry) => entry.msg === 'request');
  assert.ok(line);
  assert.equal(
    line.url,
    '/posts?access_token=%5Bredacted%5D&limit=5&token=%5Bredacted%5D&refresh_token=%5Bredacted%5D&code=%5Bredacted%5D&q=hello',
  );
  assert.doesNotMatch(lines.join('\n'), /tok-4242|rt-4343|c-4444/);
  assert.ok(!lines.join('\n').includes(token.split('.')[1]!));
});

test('GET /metrics in production needs Bearer $METRICS_TOKEN, and is off without METRICS_TOKEN', async (t) => {
  const production = {
    NODE_ENV: 'production',
    JWT_SECRET: 'a-production-secret-of-at-least-32-bytes!',
    KEY_ENCRYPTION_KEY: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=',
  };
  const withToken = await buildTestApp(t, {
    env: { ...production, METRICS_TOKEN: 'metrics-token-0123456789' },
  });
  const none = await withToken.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(none.statusCode, 401);
  assert.equal(none.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(none.headers['www-authenticate'], 'Bearer realm="metrics"');
  const wrong = await withToken.app.inject({
    method: 'GET',
    url: '/metrics',
    headers: bearer('metrics-token-0123456780'),
  });
  assert.equal(wrong.statusCode, 401);
  const right = await withToken.app.inject({
    method: 'GET',
    url: '/metrics',
    headers: bearer('metrics-token-0123456789'),
  });
  assert.equal(right.statusCode, 200);
  assert.match(right.body, /http_requests_total/);

  const without = await buildTestApp(t, { env: production });
  assert.equal((await without.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
  const open = await buildTestApp(t);
  assert.equal(
    (await open.app.inject({ method: 'GET', url: '/metrics' })).statusCode,
    200,
    'open outside production',
  );
});

test('GET /metrics: event-loop delay, the hash queue and its waits, rate-limit refusals, cache hits and misses', async (t) => {
  const testApp = await buildTestApp(t, { env: { RATE_LIMIT_WRITES: '1' } });
  const { token } = await signedIn(testApp); // one hash (signup) and one verification (login)
  await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) }); // token and session: miss
  await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) }); // both: hit
  for (let i = 0; i < 2; i += 1) {
    await testApp.app.inject({
      method: 'POST',
      url: '/posts',
      headers: bearer(token),
      payload: { title: 't', content: 'c' },
    });
  }
  const body = (await testApp.app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.match(body, /^nodejs_eventloop_lag_p99_seconds \d/m);
  assert.match(body, /^inkgate_password_hash_queue\{state="running"\} 0$/m);
  assert.match(body, /^inkgate_password_hash_queue\{state="waiting"\} 0$/m);
  assert.match(body, /^inkgate_password_hash_wait_seconds_count 2$/m);
  assert.match(body, /^inkgate_rate_limited_total\{policy="writes"\} 1$/m);
  assert.match(body, /^inkgate_cache_lookups_total\{cache="token",result="miss"\} 1$/m);
  assert.match(body, /^inkgate_cache_lookups_total\{cache="token",result="hit"\} [23]$/m);
  assert.match(body, /^inkgate_cache_lookups_total\{cache="session",result="hit"\} [23]$/m);
});
