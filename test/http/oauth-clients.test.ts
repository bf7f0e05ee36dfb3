import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { decodeJwt } from 'jose';
import { bearer, buildTestApp, describeEachEngine, signedIn, type TestApp } from '../helpers/app.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

async function register(testApp: TestApp, token: string, payload: Record<string, unknown>) {
  return testApp.app.inject({ method: 'POST', url: '/oauth-clients', headers: bearer(token), payload });
}

async function clientRow(testApp: TestApp, clientId: string) {
  return testApp.database.db
    .selectFrom('oauth_clients')
    .selectAll()
    .where('client_id', '=', clientId)
    .executeTakeFirst();
}

async function events(testApp: TestApp, type: string) {
  return testApp.database.db.selectFrom('audit_events').selectAll().where('type', '=', type).execute();
}

describeEachEngine('OAuth clients', (engine) => {
  test('the first-party client exists from the start: public, first party, Swagger UI’s redirect and FIRST_PARTY_REDIRECT_URIS', async (t) => {
    const testApp = await buildTestApp(t, {
      engine,
      env: { FIRST_PARTY_REDIRECT_URIS: 'https://app.example.com/cb, http://127.0.0.1/cli' },
    });
    const { token } = await signedIn(testApp, { role: 'admin' });
    const response = await testApp.app.inject({
      method: 'GET',
      url: '/oauth-clients/inkgate',
      headers: bearer(token),
    });
    assert.equal(response.statusCode, 200);
    const client = response.json();
    assert.deepEqual(
      { ...client, created_at: undefined, updated_at: undefined },
      {
        client_id: 'inkgate',
        name: 'inkgate (first party)',
        type: 'public',
        redirect_uris: [
          'http://inkgate.test/docs/static/oauth2-redirect.html',
          'https://app.example.com/cb',
          'http://127.0.0.1/cli',
        ],
        scopes: ['profile', 'posts:write', 'comments:write', 'admin'],
        first_party: true,
        created_at: undefined,
        updated_at: undefined,
      },
    );
    // Defined by the settings: the API changes, rotates and deletes nothing of it.
    for (const [method, url, payload] of [
      ['PATCH', '/oauth-clients/inkgate', { name: 'mine now' }],
      ['DELETE', '/oauth-clients/inkgate', undefined],
      ['POST', '/oauth-clients/inkgate/secret', undefined],
    ] as const) {
      const refused = await testApp.app.inject({
        method,
        url,
        headers: bearer(token),
        ...(payload && { payload }),
      });
      assert.equal(refused.statusCode, 409, `${method} ${url}`);
      assert.equal(refused.json().code, 'client_managed_by_settings');
    }
    assert.equal((await clientRow(testApp, 'inkgate'))?.name, undefined, 'it is the settings’, never a row');
    const list = await testApp.app.inject({ method: 'GET', url: '/oauth-clients', headers: bearer(token) });
    assert.deepEqual(list.json(), { data: [], next_cursor: null }, 'the list holds registered clients');
  });

  test('only admins manage clients: 401 without a token, 403 insufficient_scope for a user [ASVS V8.2.1] [API5:2023]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp);
    const payload = { name: 'Notes', type: 'public', redirect_uris: ['https://notes.example.com/cb'] };
    const anonymous = await testApp.app.inject({ method: 'POST', url: '/oauth-clients', payload });
    assert.equal(anonymous.statusCode, 401);
    const user = await register(testApp, token, payload);
    assert.equal(user.statusCode, 403);
    assert.equal(user.json().code, 'insufficient_scope');
    for (const url of ['/oauth-clients', '/oauth-clients/inkgate']) {
      const read = await testApp.app.inject({ method: 'GET', url, headers: bearer(token) });
      assert.equal(read.statusCode, 403, url);
    }
    const rows = await testApp.database.db.selectFrom('oauth_clients').select('client_id').execute();
    assert.deepEqual(rows, [], 'nothing was registered');
  });

  test('POST /oauth-clients: a public client has no secret; a confidential one gets 256 random bits once, kept as a hash [RFC6749 §2.3.1] [ASVS V6.4.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { user, token } = await signedIn(testApp, { role: 'admin' });

    const pub = await register(testApp, token, {
      name: 'Notes CLI',
      type: 'public',
      redirect_uris: ['http://127.0.0.1/callback', 'com.example.notes:/oauth'],
    });
    assert.equal(pub.statusCode, 201);
    const publicClient = pub.json();
    assert.equal(pub.headers.location, `/oauth-clients/${publicClient.client_id}`);
    assert.match(publicClient.client_id, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(publicClient.client_secret, undefined);
    assert.deepEqual(
      publicClient.scopes,
      ['profile', 'posts:write', 'comments:write'],
      'every scope but admin by default',
    );
    assert.equal(publicClient.first_party, false);
    assert.equal((await clientRow(testApp, publicClient.client_id))?.secret_hash, null);

    const conf = await register(testApp, token, {
      name: 'Notes server',
      type: 'confidential',
      redirect_uris: ['https://notes.example.com/cb'],
      scopes: ['profile'],
      first_party: true,
    });
    assert.equal(conf.statusCode, 201);
    const confidential = conf.json();
    assert.match(confidential.client_secret, /^[A-Za-z0-9_-]{43}$/, '256 bits, base64url');
    assert.deepEqual(confidential.scopes, ['profile']);
    const row = await clientRow(testApp, confidential.client_id);
    assert.equal(row?.secret_hash, sha256(confidential.client_secret), 'only the hash is kept');
    assert.notEqual(row?.secret_hash, confidential.client_secret);

    // Never shown again.
    const read = await testApp.app.inject({
      method: 'GET',
      url: `/oauth-clients/${confidential.client_id}`,
      headers: bearer(token),
    });
    assert.equal(read.statusCode, 200);
    assert.equal(read.json().client_secret, undefined);
    assert.doesNotMatch(read.body, new RegExp(confidential.client_secret));
    const list = await testApp.app.inject({
      method: 'GET',
      url: '/oauth-clients?limit=1',
      headers: bearer(token),
    });
    assert.deepEqual(
      list.json().data.map((c: { client_id: string }) => c.client_id),
      [confidential.client_id],
      'newest first',
    );
    assert.equal(typeof list.json().next_cursor, 'string');
    const next = await testApp.app.inject({
      method: 'GET',
      url: `/oauth-clients?limit=1&cursor=${list.json().next_cursor}`,
      headers: bearer(token),
    });
    assert.deepEqual(
      next.json().data.map((c: { client_id: string }) => c.client_id),
      [publicClient.client_id],
    );
    assert.equal(next.json().next_cursor, null);
    assert.doesNotMatch(list.body, /secret/);

    const [created] = (await events(testApp, 'client_created')).filter(
      (e) => JSON.parse(e.details as unknown as string).client_id === confidential.client_id,
    );
    assert.equal(created?.actor_id, user.id, 'the admin who did it');
    assert.doesNotMatch(JSON.stringify(created), new RegExp(confidential.client_secret));
  });

  test('redirect URIs that break the rules are 422 naming each one, and nothing is registered [RFC9700 §2.1] [RFC8252 §7.1]', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp, { role: 'admin' });
    const cases: Array<[Record<string, unknown>, Array<string>]> = [
      [{ type: 'public', redirect_uris: ['https://a.example.com/cb#x'] }, ['/redirect_uris/0']],
      [
        { type: 'public', redirect_uris: ['https://a.example.com/cb', 'https://*.example.com/cb'] },
        ['/redirect_uris/1'],
      ],
      [{ type: 'public', redirect_uris: ['http://a.example.com/cb'] }, ['/redirect_uris/0']],
      [{ type: 'confidential', redirect_uris: ['com.example.app:/cb'] }, ['/redirect_uris/0']],
      [{ type: 'public', redirect_uris: ['javascript:alert(1)'] }, ['/redirect_uris/0']],
      [
        { type: 'public', redirect_uris: ['https://a.example.com/cb', 'https://a.example.com/cb'] },
        ['/redirect_uris'],
      ],
      [{ type: 'public', redirect_uris: [] }, ['/redirect_uris']],
      [
        { type: 'public', redirect_uris: ['https://a.example.com/cb'], scopes: ['everything'] },
        ['/scopes/0'],
      ],
      [{ type: 'sometimes', redirect_uris: ['https://a.example.com/cb'] }, ['/type']],
      [{ type: 'public', redirect_uris: ['https://a.example.com/cb'], secret: 'mine' }, ['/secret']],
    ];
    for (const [body, paths] of cases) {
      const response = await register(testApp, token, { name: 'x', ...body });
      assert.equal(response.statusCode, 422, JSON.stringify(body));
      assert.equal(response.json().code, 'validation_failed');
      const got = response.json().errors.map((e: { path: string }) => e.path);
      for (const path of paths)
        assert.ok(
          got.some((p: string) => p.startsWith(path)),
          `${JSON.stringify(body)}: ${got}`,
        );
    }
    const rows = await testApp.database.db.selectFrom('oauth_clients').select('client_id').execute();
    assert.equal(rows.length, 0);
    assert.equal((await events(testApp, 'client_created')).length, 0);
  });

  test('PATCH /oauth-clients/{id}: name, redirect URIs, scopes, first party; 404 for an unknown one; client_updated names the fields', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp, { role: 'admin' });
    const { client_id } = (
      await register(testApp, token, {
        name: 'Old',
        type: 'public',
        redirect_uris: ['https://a.example.com/cb'],
      })
    ).json();
    const patched = await testApp.app.inject({
      method: 'PATCH',
      url: `/oauth-clients/${client_id}`,
      headers: bearer(token),
      payload: { name: 'New', redirect_uris: ['https://b.example.com/cb'], scopes: ['profile'] },
    });
    assert.equal(patched.statusCode, 200);
    assert.equal(patched.json().name, 'New');
    assert.deepEqual(patched.json().redirect_uris, ['https://b.example.com/cb']);
    assert.deepEqual(patched.json().scopes, ['profile']);
    const [updated] = await events(testApp, 'client_updated');
    assert.deepEqual(JSON.parse(updated!.details as unknown as string).fields, [
      'name',
      'redirect_uris',
      'scopes',
    ]);

    const bad = await testApp.app.inject({
      method: 'PATCH',
      url: `/oauth-clients/${client_id}`,
      headers: bearer(token),
      payload: { name: 'Newer', redirect_uris: ['http://evil.example.com/cb'] },
    });
    assert.equal(bad.statusCode, 422);
    assert.equal(bad.json().errors[0].path, '/redirect_uris/0');
    assert.equal((await clientRow(testApp, client_id))?.name, 'New', 'a refused change changes nothing');

    for (const [method, url] of [
      ['GET', '/oauth-clients/nope'],
      ['PATCH', '/oauth-clients/nope'],
      ['DELETE', '/oauth-clients/nope'],
      ['POST', '/oauth-clients/nope/secret'],
    ] as const) {
      const missing = await testApp.app.inject({
        method,
        url,
        headers: bearer(token),
        ...(method === 'PATCH' && { payload: { name: 'x' } }),
      });
      assert.equal(missing.statusCode, 404, `${method} ${url}`);
      assert.equal(missing.json().code, 'client_not_found');
    }
  });

  test('POST /oauth-clients/{id}/secret: a new secret, the old hash gone; a public client has none (409)', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token } = await signedIn(testApp, { role: 'admin' });
    const created = (
      await register(testApp, token, {
        name: 'S',
        type: 'confidential',
        redirect_uris: ['https://s.example.com/cb'],
      })
    ).json();
    const rotated = await testApp.app.inject({
      method: 'POST',
      url: `/oauth-clients/${created.client_id}/secret`,
      headers: bearer(token),
    });
    assert.equal(rotated.statusCode, 200);
    const secret = rotated.json().client_secret;
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(secret, created.client_secret);
    assert.equal((await clientRow(testApp, created.client_id))?.secret_hash, sha256(secret));
    assert.equal((await events(testApp, 'client_secret_rotated')).length, 1);

    const pub = (
      await register(testApp, token, {
        name: 'P',
        type: 'public',
        redirect_uris: ['https://p.example.com/cb'],
      })
    ).json();
    const none = await testApp.app.inject({
      method: 'POST',
      url: `/oauth-clients/${pub.client_id}/secret`,
      headers: bearer(token),
    });
    assert.equal(none.statusCode, 409);
    assert.equal(none.json().code, 'client_is_public');
    assert.equal((await clientRow(testApp, pub.client_id))?.secret_hash, null);
  });

  test('DELETE /oauth-clients/{id}: the client and every session it has end at once; other clients’ sessions stay', async (t) => {
    const testApp = await buildTestApp(t, { engine });
    const { token: adminToken } = await signedIn(testApp, { role: 'admin' });
    const { client_id } = (
      await register(testApp, adminToken, {
        name: 'Gone',
        type: 'public',
        redirect_uris: ['https://g.example.com/cb'],
      })
    ).json();
    // A user's session of that client (the code grant makes these; here one is moved to it), and
    // another session of the first-party client.
    const { token: theirs } = await signedIn(testApp);
    const { token: firstParty } = await signedIn(testApp);
    await testApp.database.db
      .updateTable('sessions')
      .set({ client_id })
      .where('id', '=', decodeJwt(theirs).sid as string)
      .execute();
    const me = (token: string) =>
      testApp.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
    assert.equal((await me(theirs)).statusCode, 200, 'the session works (and is cached)');

    const deleted = await testApp.app.inject({
      method: 'DELETE',
      url: `/oauth-clients/${client_id}`,
      headers: bearer(adminToken),
    });
    assert.equal(deleted.statusCode, 204);
    assert.equal(await clientRow(testApp, client_id), undefined);
    assert.equal((await me(theirs)).statusCode, 401, 'its session ended at once, cache included');
    assert.equal((await me(firstParty)).statusCode, 200);
    assert.equal((await me(adminToken)).statusCode, 200);
    const [event] = await events(testApp, 'client_deleted');
    assert.deepEqual(JSON.parse(event!.details as unknown as string), { client_id, sessions: 1 });
    const again = await testApp.app.inject({
      method: 'DELETE',
      url: `/oauth-clients/${client_id}`,
      headers: bearer(adminToken),
    });
    assert.equal(again.statusCode, 404);
  });
});

test('FIRST_PARTY_REDIRECT_URIS is held to the redirect rules at start', async (t) => {
  await assert.rejects(
    buildTestApp(t, { env: { FIRST_PARTY_REDIRECT_URIS: 'http://app.example.com/cb' } }),
    /FIRST_PARTY_REDIRECT_URIS: "http:\/\/app\.example\.com\/cb" may use http: only on a loopback host/,
  );
});
