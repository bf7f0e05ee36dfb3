import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { buildTestApp } from '../helpers/app.ts';
import { openPage, SHOTS } from '../helpers/browser.ts';
import { freePort } from '../helpers/net.ts';

/**
 * A RealWorld-style front end, as the published ones do it: a page of another origin that calls
 * /api with fetch and `Authorization: Token …` (CORS by CORS_ORIGINS), and writes what it got.
 */
const FRONT_END = (api: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>conduit</title></head>
<body><pre id="log"></pre>
<script>
const api = ${JSON.stringify(api)};
const log = (line) => { document.getElementById('log').textContent += line + '\\n'; };
async function call(method, path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = 'Token ' + token;
  const response = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}
(async () => {
  const user = { username: 'conduit', email: 'conduit@example.com', password: 'a strong conduit passphrase' };
  const signup = await call('POST', '/api/users', { user });
  log('signup ' + signup.status);
  const login = await call('POST', '/api/users/login', { user: { email: user.email, password: user.password } });
  log('login ' + login.status);
  const token = login.json.user.token;
  const article = await call('POST', '/api/articles', { article: { title: 'From the browser', description: 'A front end', body: 'It *works*.', tagList: ['web'] } }, token);
  log('article ' + article.status + ' ' + article.json.article.slug);
  const list = await call('GET', '/api/articles');
  log('list ' + list.status + ' ' + list.json.articlesCount + ' ' + list.json.articles[0].title);
  const comment = await call('POST', '/api/articles/from-the-browser/comments', { comment: { body: 'Nice.' } }, token);
  log('comment ' + comment.status + ' ' + comment.json.comment.id);
  const favourite = await call('POST', '/api/articles/from-the-browser/favorite', undefined, token);
  log('favorite ' + favourite.status + ' ' + favourite.json.article.favoritesCount);
  log('done');
})().catch((error) => log('error ' + error.message));
</script></body></html>`;

test('a RealWorld-style front end of another origin signs up, logs in, writes, lists, comments and favourites through /api in Chromium (CORS)', async (t) => {
  const apiPort = await freePort();
  const frontPort = await freePort();
  const api = `http://localhost:${apiPort}`;
  const front = `http://localhost:${frontPort}`;
  const testApp = await buildTestApp(t, { env: { ISSUER: api, REALWORLD_API: 'on', CORS_ORIGINS: front } });
  await testApp.app.listen({ port: apiPort, host: 'localhost' });
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(FRONT_END(api));
  });
  await new Promise<void>((resolve) => server.listen(frontPort, 'localhost', resolve));
  t.after(() => server.close());
  const { page, problems } = await openPage(t);
  await page.goto(front);
  await page.getByText(/^(done|error .*)$/m).waitFor({ timeout: 20_000 });
  const lines = (await page.locator('#log').innerText()).trim().split('\n');
  await page.screenshot({ path: `${SHOTS}/realworld-front-end.png` });
  assert.deepEqual(lines, [
    'signup 201',
    'login 200',
    'article 201 from-the-browser',
    'list 200 1 From the browser',
    'comment 201 1',
    'favorite 200 1',
    'done',
  ]);
  assert.deepEqual(problems, []);
});
