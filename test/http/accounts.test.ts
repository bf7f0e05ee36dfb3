import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bearer,
  buildTestApp,
  createUser,
  describeEachEngine,
  signedIn,
  tokenFor,
  uniqueName,
} from '../helpers/app.ts';

describeEachEngine('accounts', (engine) => {
  test('POST /users: 201 with the public user and a Location; no password or hash in the answer [ASVS V8.2.3] [API3:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const username = uniqueName('Ada');
    const response = await testApp.app.inject({
      method: 'POST',
      url: '/users',
      payload: {
        username,
        email: 'Ada.L@Example.COM',
        password: 'analytical engine 1843',
        full_name: 'Ada Lovelace',
      },
    });
    assert.equal(response.statusCode, 201);
    const user = response.json();
    assert.equal(response.headers.location, `/users/${user.id}`);
    assert.match(user.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(Object.keys(user).sort(), [
      'bio',
      'created_at',
      'disabled',
      'email',
      'email_verified',
      'full_name',
      'id',
      'image',
      'mfa',
      'pending_email',
      'role',
      'updated_at',
      'username',
    ]);
    assert.equal(user.email_verified, false, 'an address starts unproven');
    assert.equal(user.pending_email, null);
    assert.deepEqual(user.mfa, { totp: false, passkeys: 0 });
    assert.equal(user.bio, '');
    assert.equal(user.image, null);
    assert.equal(user.username, username);
    assert.equal(user.email, 'ada.l@example.com', 'email is stored lower-cased');
    assert.equal(user.role, 'user');
    assert.equal(user.disabled, false);
    assert.match(user.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.doesNotMatch(response.body, /argon2|analytical/);
  });

  test('POST /users: 409 when the username or email is taken, whatever the case', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const existing = await createUser(testApp);
    const taken = [
      { username: existing.username.toUpperCase(), email: 'other@example.com' },
      { username: uniqueName(), email: existing.email.toUpperCase() },
    ];
    for (const fields of taken) {
      const response = await testApp.app.inject({
        method: 'POST',
        url: '/users',
        payload: { ...fields, password: 'a perfectly fine password' },
      });
      assert.equal(response.statusCode, 409, JSON.stringify(fields));
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(response.json().status, 409);
    }
  });

  test('POST /users: 422 names each bad field, and no account is created [ASVS V6.2.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ email: 'a@example.com', password: 'long enough pw' }, ['/username']],
      [{ username: 'ab', email: 'a@example.com', password: 'long enough pw' }, ['/username']],
      [{ username: 'bad name!', email: 'a@example.com', password: 'long enough pw' }, ['/username']],
      [{ username: 'x'.repeat(33), email: 'a@example.com', password: 'long enough pw' }, ['/username']],
      [{ username: 'okname', email: 'not-an-email', password: 'long enough pw' }, ['/email']],
      [{ username: 'okname', email: 'a@example.com', password: 'short' }, ['/password']],
      [{ username: 'okname', email: 'a@example.com', password: 'x'.repeat(1025) }, ['/password']],
      [{ username: 'okname', email: 'a@example.com', password: 'password123' }, ['/password']],
      [{ username: 'longername', email: 'a@example.com', password: 'LongerName' }, ['/password']],
      [
        { username: 'okname', email: 'abcdefgh@example.com', password: 'ABCDEFGH@example.com' },
        ['/password'],
      ],
      [
        {
          username: 'okname',
          email: 'a@example.com',
          password: 'long enough pw',
          full_name: 'x'.repeat(101),
        },
        ['/full_name'],
      ],
      [{ username: 'okname', email: 'a@example.com', password: 'long enough pw', role: 'admin' }, ['/role']],
      [
        { username: 'okname', email: 'a@example.com', password: 'long enough pw', id: 'x', disabled: true },
        ['/disabled', '/id'],
      ],
      [{ username: 42, email: ['a@example.com'], password: 'long enough pw' }, ['/email', '/username']],
    ];
    for (const [payload, paths] of cases) {
      const response = await testApp.app.inject({ method: 'POST', url: '/users', payload });
      assert.equal(response.statusCode, 422, JSON.stringify(payload));
      const body = response.json();
      assert.equal(body.title, 'Unprocessable Entity');
      assert.deepEqual(
        body.errors.map((e: { path: string }) => e.path).sort(),
        paths,
        JSON.stringify(payload),
      );
    }
    const count = await testApp.database.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(count.n), 0);
  });

  test('POST /users: a password is NFKC-normalised, so its compatibility forms log in too [ASVS V6.2.8]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    // U+FB01 (the "ﬁ" ligature) normalises to "fi" under NFKC.
    const user = await createUser(testApp, { password: 'ﬁne ﬁne ﬁne' });
    const token = await tokenFor(testApp, { ...user, password: 'fine fine fine' });
    assert.ok(token.length > 0);
  });

  test('GET /users/me: 200 with the caller; 401 without a token', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { user, token } = await signedIn(testApp);
    const me = await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
    assert.equal(me.statusCode, 200);
    assert.equal(me.json().id, user.id);
    assert.equal(me.json().username, user.username);

    const anonymous = await testApp.app.inject({ method: 'GET', url: '/users/me' });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="inkgate"');
  });

  test('GET /users/me: 403 insufficient_scope for a token without profile', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp, { scope: 'posts:write' });
    const response = await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
    assert.equal(response.statusCode, 403);
    assert.equal(
      response.headers['www-authenticate'],
      'Bearer realm="inkgate", error="insufficient_scope", scope="profile"',
    );
    assert.equal(response.json().status, 403);
  });

  test('PATCH /users/me: changes the name and email; 409 for a taken email; 422 for other fields [ASVS V8.2.3] [API3:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const other = await createUser(testApp);
    const { user, token } = await signedIn(testApp);
    testApp.clock.advance(1000);

    const changed = await testApp.app.inject({
      method: 'PATCH',
      url: '/users/me',
      headers: bearer(token),
      payload: { full_name: 'New Name', email: 'NEW@example.com', current_password: user.password },
    });
    assert.equal(changed.statusCode, 200);
    assert.equal(changed.json().full_name, 'New Name');
    assert.equal(changed.json().email, 'new@example.com');
    assert.ok(changed.json().updated_at > changed.json().created_at);

    const unchanged = await testApp.app.inject({
      method: 'PATCH',
      url: '/users/me',
      headers: bearer(token),
      payload: {},
    });
    assert.equal(unchanged.statusCode, 200);
    assert.equal(unchanged.json().email, 'new@example.com');

    const conflict = await testApp.app.inject({
      method: 'PATCH',
      url: '/users/me',
      headers: bearer(token),
      payload: { email: other.email, current_password: user.password },
    });
    assert.equal(conflict.statusCode, 409);

    for (const payload of [{ role: 'admin' }, { disabled: true }, { password: 'new password!' }]) {
      const refused = await testApp.app.inject({
        method: 'PATCH',
        url: '/users/me',
        headers: bearer(token),
        payload,
      });
      assert.equal(refused.statusCode, 422, JSON.stringify(payload));
      assert.equal(refused.json().errors[0].path, `/${Object.keys(payload)[0]}`);
    }
    const me = await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
    assert.equal(me.json().role, 'user');
    assert.equal(me.json().username, user.username);
    assert.equal(me.json().email, 'new@example.com');
  });

  test('PATCH /users/me: a new username (signup’s rules, 409 when taken in any case), a bio and an https image; earlier tokens keep working [API3:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const other = await createUser(testApp);
    const { user, token } = await signedIn(testApp);
    const patch = (payload: object) =>
      testApp.app.inject({ method: 'PATCH', url: '/users/me', headers: bearer(token), payload });
    const renamed = await patch({
      username: `${user.username}_new`,
      bio: 'Writes about engines.',
      image: 'https://images.example.com/ada.png',
    });
    assert.equal(renamed.statusCode, 200, renamed.body);
    assert.equal(renamed.json().username, `${user.username}_new`);
    assert.equal(renamed.json().bio, 'Writes about engines.');
    assert.equal(renamed.json().image, 'https://images.example.com/ada.png');
    const me = await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
    assert.equal(me.statusCode, 200, 'the token from before the rename still works');
    assert.equal(me.json().username, `${user.username}_new`);
    assert.equal((await patch({ image: null })).json().image, null);

    const taken = await patch({ username: other.username.toUpperCase() });
    assert.equal(taken.statusCode, 409);
    assert.equal(taken.json().code, 'username_taken');
    const invalid: Array<[object, string]> = [
      [{ username: 'ab' }, '/username'],
      [{ username: 'has space' }, '/username'],
      [{ bio: 'x'.repeat(1001) }, '/bio'],
      [{ image: 'http://images.example.com/ada.png' }, '/image'],
      [{ image: 'javascript:alert(1)' }, '/image'],
      [{ image: `https://example.com/${'x'.repeat(2000)}` }, '/image'],
      [{ image: 'https://exa mple.com/a.png' }, '/image'],
    ];
    for (const [payload, path] of invalid) {
      const refused = await patch(payload);
      assert.equal(refused.statusCode, 422, JSON.stringify(payload));
      assert.ok(refused.json().errors[0].path.startsWith(path), refused.body);
    }
    const after = await testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
    assert.equal(after.json().username, `${user.username}_new`, 'nothing changed by the refused ones');
  });
});
