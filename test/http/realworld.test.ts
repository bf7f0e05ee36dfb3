// The RealWorld API's contract (API.md "RealWorld-compatible API"), point by point, on both engines.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, describeEachEngine, type TestApp } from '../helpers/app.ts';

const PASSWORD = 'a strong jakejake passphrase';

function api(testApp: TestApp) {
  return (
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    payload?: unknown,
    token?: string,
    headers: Record<string, string> = {},
  ) =>
    testApp.app.inject({
      method,
      url,
      ...(payload !== undefined && { payload: payload as Record<string, unknown> }),
      headers: { ...(token === undefined ? {} : { authorization: `Token ${token}` }), ...headers },
    });
}

async function register(testApp: TestApp, username: string) {
  const response = await api(testApp)('POST', '/api/users', {
    user: { username, email: `${username}@example.com`, password: PASSWORD },
  });
  assert.equal(response.statusCode, 201, response.body);
  return response.json().user as {
    token: string;
    username: string;
    email: string;
    bio: unknown;
    image: unknown;
  };
}

describeEachEngine('RealWorld API', (engine) => {
  test('users: register 201, login 200, GET and PUT /api/user, with the specification’s shapes', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { REALWORLD_API: 'on' } });
    const call = api(testApp);
    const jake = await register(testApp, 'jake');
    assert.deepEqual(Object.keys(jake).sort(), ['bio', 'email', 'image', 'token', 'username']);
    assert.deepEqual(
      [jake.email, jake.username, jake.bio, jake.image],
      ['jake@example.com', 'jake', null, null],
    );
    const login = await call('POST', '/api/users/login', {
      user: { email: 'jake@example.com', password: PASSWORD },
    });
    assert.equal(login.statusCode, 200);
    assert.equal(login.json().user.username, 'jake');
    const me = await call('GET', '/api/user', undefined, jake.token);
    assert.equal(me.statusCode, 200);
    assert.equal(me.json().user.token, jake.token);
    const bio = await call('PUT', '/api/user', { user: { bio: 'I skate', image: '' } }, jake.token);
    assert.deepEqual(
      [bio.json().user.bio, bio.json().user.image, bio.json().user.token],
      ['I skate', null, jake.token],
    );
    const renamed = await call('PUT', '/api/user', { user: { username: 'jacob' } }, jake.token);
    assert.equal(renamed.json().user.username, 'jacob');
    assert.notEqual(renamed.json().user.token, jake.token, 'a new username answers a new token');
    testApp.clock.advance(6 * 60_000);
    const late = await call(
      'PUT',
      '/api/user',
      { user: { password: 'another strong passphrase' } },
      jake.token,
    );
    assert.equal(late.statusCode, 403);
    assert.deepEqual(late.json(), { errors: { password: ['re-enter your password'] } });
  });

  test('errors: can’t be blank per field, has already been taken, credentials invalid, token is missing', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { REALWORLD_API: 'on' } });
    const call = api(testApp);
    await register(testApp, 'jake');
    const blank = await call('POST', '/api/users', { user: { username: 'x' } });
    assert.equal(blank.statusCode, 422);
    assert.deepEqual(blank.json(), { errors: { email: ["can't be blank"], password: ["can't be blank"] } });
    const taken = await call('POST', '/api/users', {
      user: { username: 'jake', email: 'other@example.com', password: PASSWORD },
    });
    assert.equal(taken.statusCode, 409);
    assert.deepEqual(taken.json(), { errors: { username: ['has already been taken'] } });
    const common = await call('POST', '/api/users', {
      user: { username: 'z', email: 'z@example.com', password: 'password' },
    });
    assert.equal(common.statusCode, 422);
    assert.ok(common.json().errors.password);
    const wrong = await call('POST', '/api/users/login', {
      user: { email: 'jake@example.com', password: 'wrong one' },
    });
    assert.equal(wrong.statusCode, 401);
    assert.deepEqual(wrong.json(), { errors: { credentials: ['invalid'] } });
    const missing = await call('GET', '/api/user');
    assert.equal(missing.statusCode, 401);
    assert.deepEqual(missing.json(), { errors: { token: ['is missing'] } });
  });

  test('articles: create (tagList sorted), list without body with articlesCount, get, favourite, delete then 404', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { REALWORLD_API: 'on' } });
    const call = api(testApp);
    const jake = await register(testApp, 'jake');
    const article = {
      title: 'How to train your dragon',
      description: 'Ever wonder how?',
      body: 'You have to believe',
      tagList: ['training', 'dragons'],
    };
    const created = await call('POST', '/api/articles', { article }, jake.token);
    assert.equal(created.statusCode, 201, created.body);
    const body = created.json().article;
    assert.deepEqual(body.tagList, ['dragons', 'training']);
    assert.deepEqual(
      [body.slug, body.description, body.body, body.favorited, body.favoritesCount],
      ['how-to-train-your-dragon', 'Ever wonder how?', 'You have to believe', false, 0],
    );
    assert.match(body.createdAt, /\.\d{3}Z$/);
    assert.deepEqual(body.author, { username: 'jake', bio: null, image: null, following: false });
    const again = await call('POST', '/api/articles', { article }, jake.token);
    assert.equal(
      again.json().article.slug,
      'how-to-train-your-dragon-2',
      'duplicate titles get distinct slugs',
    );
    const list = await call('GET', '/api/articles?limit=1', undefined, jake.token);
    assert.equal(list.json().articlesCount, 2, 'the total, not the page size');
    assert.equal(list.json().articles.length, 1);
    assert.ok(!('body' in list.json().articles[0]));
    const favourite = await call(
      'POST',
      '/api/articles/how-to-train-your-dragon/favorite',
      undefined,
      jake.token,
    );
    assert.deepEqual(
      [favourite.json().article.favorited, favourite.json().article.favoritesCount],
      [true, 1],
    );
    const unfavourite = await call(
      'DELETE',
      '/api/articles/how-to-train-your-dragon/favorite',
      undefined,
      jake.token,
      {
        'content-type': 'application/json',
      },
    );
    assert.deepEqual(
      [unfavourite.json().article.favorited, unfavourite.json().article.favoritesCount],
      [false, 0],
    );
    const removed = await call('DELETE', '/api/articles/how-to-train-your-dragon', undefined, jake.token, {
      'content-type': 'application/json',
    });
    assert.equal(removed.statusCode, 204);
    const gone = await call('GET', '/api/articles/how-to-train-your-dragon');
    assert.equal(gone.statusCode, 404);
    assert.deepEqual(gone.json(), { errors: { article: ['not found'] } });
  });

  test('article update: tagList absent keeps the tags, [] clears them, null is 422; limit and offset are bounded', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { REALWORLD_API: 'on' } });
    const call = api(testApp);
    const jake = await register(testApp, 'jake');
    await call(
      'POST',
      '/api/articles',
      { article: { title: 'T', description: 'D', body: 'B', tagList: ['a', 'b'] } },
      jake.token,
    );
    const kept = await call('PUT', '/api/articles/t', { article: { body: 'New body' } }, jake.token);
    assert.deepEqual([kept.json().article.tagList, kept.json().article.body], [['a', 'b'], 'New body']);
    const refused = await call('PUT', '/api/articles/t', { article: { tagList: null } }, jake.token);
    assert.equal(refused.statusCode, 422);
    assert.ok(refused.json().errors.tagList);
    const cleared = await call('PUT', '/api/articles/t', { article: { tagList: [] } }, jake.token);
    assert.deepEqual(cleared.json().article.tagList, []);
    assert.equal((await call('GET', '/api/articles?limit=101')).statusCode, 422);
    assert.equal((await call('GET', '/api/articles?offset=10001')).statusCode, 422);
    const offset = await call('GET', '/api/articles?offset=1');
    assert.deepEqual([offset.json().articles, offset.json().articlesCount], [[], 1]);
  });

  test('articles by offset: every page in order, none repeated, filtered by tag and author, with the whole count', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { REALWORLD_API: 'on' } });
    const call = api(testApp);
    const jake = await register(testApp, 'jake');
    const anna = await register(testApp, 'anna');
    for (let i = 0; i < 7; i += 1) {
      testApp.clock.advance(1);
      await call(
        'POST',
        '/api/articles',
        { article: { title: `A${i}`, description: 'D', body: 'B', tagList: i % 2 ? ['odd'] : [] } },
        i < 5 ? jake.token : anna.token,
      );
    }
    const titles = async (query: string) => {
      const answer = (await call('GET', `/api/articles?${query}`)).json();
      return [answer.articles.map((a: { title: string }) => a.title).join(' '), answer.articlesCount];
    };
    const pages = [];
    for (const offset of [0, 2, 4, 6, 8]) pages.push(await titles(`limit=2&offset=${offset}`));
    assert.deepEqual(pages, [
      ['A6 A5', 7],
      ['A4 A3', 7],
      ['A2 A1', 7],
      ['A0', 7],
      ['', 7],
    ]);
    assert.deepEqual(await titles('tag=odd&limit=2&offset=1'), ['A3 A1', 3]);
    assert.deepEqual(await titles('author=anna&offset=1'), ['A5', 2]);
    // Asked again (so kept), after a delete: the kept page goes with the write.
    assert.deepEqual(await titles('limit=2&offset=2'), ['A4 A3', 7]);
    assert.equal((await call('DELETE', '/api/articles/a4', undefined, jake.token)).statusCode, 204);
    assert.deepEqual(await titles('limit=2&offset=2'), ['A3 A2', 6]);
  });

  test('comments, profiles and follows; another user’s article and comment are 403 forbidden', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { REALWORLD_API: 'on' } });
    const call = api(testApp);
    const jake = await register(testApp, 'jake');
    const celeb = await register(testApp, 'celeb');
    await call(
      'POST',
      '/api/articles',
      { article: { title: 'T', description: 'D', body: 'B' } },
      celeb.token,
    );
    const comment = await call(
      'POST',
      '/api/articles/t/comments',
      { comment: { body: 'Thank you so much!' } },
      celeb.token,
    );
    assert.equal(comment.statusCode, 201);
    assert.equal(comment.json().comment.id, 1);
    assert.equal((await call('GET', '/api/articles/t/comments')).json().comments.length, 1);
    assert.equal(
      (await call('GET', '/api/articles/t/comments', undefined, jake.token)).json().comments.length,
      1,
    );
    const notYours = await call('DELETE', '/api/articles/t/comments/1', undefined, jake.token);
    assert.equal(notYours.statusCode, 403);
    assert.deepEqual(notYours.json(), { errors: { comment: ['forbidden'] } });
    const notYourArticle = await call('DELETE', '/api/articles/t', undefined, jake.token);
    assert.equal(notYourArticle.statusCode, 403);
    assert.deepEqual(notYourArticle.json(), { errors: { article: ['forbidden'] } });
    const follow = await call(
      'POST',
      '/api/profiles/celeb/follow',
      { user: { email: 'jake@example.com' } },
      jake.token,
    );
    assert.equal(follow.statusCode, 200, 'the follow request’s user object is taken');
    assert.equal(follow.json().profile.following, true);
    assert.equal((await call('GET', '/api/articles/feed', undefined, jake.token)).json().articlesCount, 1);
    assert.equal((await call('GET', '/api/articles/feed', undefined, celeb.token)).json().articlesCount, 0);
    const unfollow = await call('DELETE', '/api/profiles/celeb/follow', undefined, jake.token);
    assert.equal(unfollow.json().profile.following, false);
    const nobody = await call('GET', '/api/profiles/nobody-at-all');
    assert.equal(nobody.statusCode, 404);
    assert.deepEqual(nobody.json(), { errors: { profile: ['not found'] } });
    assert.equal(
      (await call('DELETE', '/api/articles/t/comments/1', undefined, celeb.token)).statusCode,
      204,
    );
    assert.deepEqual((await call('GET', '/api/tags')).json(), { tags: [] });
  });

  test('tokens are kept apart: a RealWorld token on a native route and a native token on /api are 401', async (t) => {
    const testApp = await buildTestApp(t, { engine, env: { REALWORLD_API: 'on' } });
    const jake = await register(testApp, 'jake');
    const native = await testApp.app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: 'password',
        username: 'jake',
        password: PASSWORD,
      }).toString(),
    });
    const nativeToken = native.json().access_token as string;
    assert.equal(
      (await testApp.app.inject({ url: '/users/me', headers: { authorization: `Bearer ${jake.token}` } }))
        .statusCode,
      401,
    );
    assert.equal(
      (await testApp.app.inject({ url: '/api/user', headers: { authorization: `Token ${nativeToken}` } }))
        .statusCode,
      401,
    );
    assert.equal(
      (await testApp.app.inject({ url: '/api/user', headers: { authorization: `Bearer ${jake.token}` } }))
        .statusCode,
      200,
    );
    const sessions = await testApp.app.inject({
      url: '/users/me/sessions',
      headers: { authorization: `Bearer ${nativeToken}` },
    });
    assert.ok(
      sessions.json().data.some((s: { client_id: string }) => s.client_id === 'realworld'),
      'listed with the others',
    );
    await testApp.app.inject({
      method: 'DELETE',
      url: '/users/me/sessions',
      headers: { authorization: `Bearer ${nativeToken}` },
    });
    assert.equal(
      (await testApp.app.inject({ url: '/api/user', headers: { authorization: `Token ${jake.token}` } }))
        .statusCode,
      401,
      'ended by logout everywhere',
    );
  });
});

test('bodies under /api: empty is none, invalid UTF-8 and prototype poisoning are 400, as everywhere', async (t) => {
  const testApp = await buildTestApp(t, { env: { REALWORLD_API: 'on' } });
  const post = (payload: string | Buffer) =>
    testApp.app.inject({
      method: 'POST',
      url: '/api/users/login',
      headers: { 'content-type': 'application/json' },
      payload,
    });
  const empty = await post('');
  assert.equal(empty.statusCode, 422, 'no body where one is needed: 422, not a 400 for the empty JSON');
  assert.deepEqual(empty.json(), { errors: { body: ['must be object'] } });
  assert.equal((await post(Buffer.from([0x7b, 0xff, 0x7d]))).statusCode, 400);
  assert.equal((await post('{"user": {"__proto__": {"admin": true}}}')).statusCode, 400);
  assert.equal((await post('{not json')).statusCode, 400);
});

test('REALWORLD_API is off by default: /api is 404', async (t) => {
  const testApp = await buildTestApp(t);
  assert.equal((await testApp.app.inject({ url: '/api/tags' })).statusCode, 404);
});

test('the OpenAPI document lists /api under its own tag and apiKey scheme when it is on, and not otherwise', async (t) => {
  const on = await buildTestApp(t, { env: { REALWORLD_API: 'on' } });
  const doc = (await on.app.inject({ url: '/openapi.json' })).json();
  assert.deepEqual(doc.components.securitySchemes.RealWorldToken, {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description: doc.components.securitySchemes.RealWorldToken.description,
  });
  const operations = Object.entries(
    doc.paths as Record<string, Record<string, { tags: string[]; security: unknown[] }>>,
  )
    .filter(([path]) => path.startsWith('/api/'))
    .flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ key: `${method} ${path}`, op })),
    );
  assert.equal(operations.length, 19, operations.map((o) => o.key).join(', '));
  for (const { key, op } of operations) assert.deepEqual(op.tags, ['realworld'], key);
  assert.ok(doc.tags.some((tag: { name: string }) => tag.name === 'realworld'));
  const off = await buildTestApp(t);
  const plain = (await off.app.inject({ url: '/openapi.json' })).json();
  assert.equal(plain.components.securitySchemes.RealWorldToken, undefined);
  assert.ok(!Object.keys(plain.paths).some((path) => path.startsWith('/api/')));
});

test('REALWORLD_API=on with EMAIL_VERIFICATION=required is refused at start, naming the variable', async () => {
  const { loadConfig } = await import('../../src/config.ts');
  assert.throws(
    () => loadConfig({ REALWORLD_API: 'on', EMAIL_VERIFICATION: 'required' }),
    (error: Error) => /REALWORLD_API/.test(error.message),
  );
});
