import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { passwordProblem } from '../../src/accounts/password-policy.ts';
import { grantScopes, parseScopeParameter, UnknownScopeError } from '../../src/authz/scopes.ts';
import { encodeCursor } from '../../src/db/cursor.ts';
import { adaptNodeSqlite } from '../../src/db/node-sqlite.ts';
import { canonicalAddress } from '../../src/http/client-address.ts';
import { classifyError } from '../../src/http/error-handler.ts';
import { UnprocessableError } from '../../src/http/errors.ts';
import { decodeCursor } from '../../src/http/pagination.ts';
import { toFieldErrors } from '../../src/http/validation.ts';

test('password policy: length in code points, not the username or email, not a common password [ASVS V6.2.1] [ASVS V6.2.4] [ASVS V6.2.5] [ASVS V6.2.9] [ASVS V6.2.11] [ASVS V6.2.12]', () => {
  assert.equal(passwordProblem('correct horse battery', {}), undefined);
  assert.equal(passwordProblem('1234567', {}), 'must be at least 8 characters');
  assert.equal(passwordProblem('🦄🦄🦄🦄🦄🦄🦄🦄', {}), undefined, 'eight emoji are eight characters');
  assert.equal(passwordProblem('x'.repeat(1025), {}), 'must be at most 1024 characters');
  // Long passphrases of any composition are welcome: 64 characters and more, up to 1024.
  assert.equal(passwordProblem('correct horse battery staple, '.repeat(40).slice(0, 1024), {}), undefined);
  assert.equal(passwordProblem('ALL CAPS AND SPACES ARE FINE TOO', {}), undefined);
  assert.equal(passwordProblem('Grace_Hopper', { username: 'grace_hopper' }), 'must not be the username');
  assert.equal(
    passwordProblem('Grace@Example.com', { email: 'grace@example.com' }),
    'must not be the email address',
  );
  for (const common of ['password', 'Password1', '12345678', 'qwertyuiop', 'iloveyou', 'sunshine']) {
    assert.equal(passwordProblem(common, {}), 'is one of the most commonly used passwords', common);
  }
  // NFKC first: full-width letters are their ASCII selves.
  assert.equal(passwordProblem('ｐａｓｓｗｏｒｄ', {}), 'is one of the most commonly used passwords');
});

test('scopes: parsing and granting', () => {
  assert.equal(parseScopeParameter(undefined), undefined);
  assert.equal(parseScopeParameter(''), undefined);
  assert.equal(parseScopeParameter('   '), undefined);
  assert.deepEqual(parseScopeParameter('posts:write profile posts:write'), ['posts:write', 'profile']);
  assert.throws(() => parseScopeParameter('profile openid'), UnknownScopeError);
  assert.throws(
    () => parseScopeParameter('PROFILE'),
    UnknownScopeError,
    'scopes are case-sensitive (RFC 6749 §3.3)',
  );
  assert.deepEqual(grantScopes('user', undefined), ['profile', 'posts:write', 'comments:write']);
  assert.deepEqual(grantScopes('admin', undefined), ['profile', 'posts:write', 'comments:write', 'admin']);
  assert.deepEqual(grantScopes('admin', ['admin', 'profile']), ['profile', 'admin']);
  assert.equal(grantScopes('user', ['admin']), undefined);
});

test('cursors: round-trip, and anything else is a 422 on /cursor', () => {
  const cursor = {
    createdAt: new Date('2026-11-22T17:54:17.123Z'),
    id: '01a204c7-66c1-742b-a8b0-af08bd300cf0',
  };
  assert.deepEqual(decodeCursor(encodeCursor(cursor)), cursor);
  const bad = [
    'garbage',
    Buffer.from('{}').toString('base64url'),
    Buffer.from('["2026-11-22", "01a204c7-66c1-742b-a8b0-af08bd300cf0"]').toString('base64url'),
    Buffer.from('["2026-11-22T17:54:17.123Z", "1 or 1=1"]').toString('base64url'),
  ];
  for (const text of bad) {
    assert.throws(
      () => decodeCursor(text),
      (error: unknown) => error instanceof UnprocessableError && error.errors[0]?.path === '/cursor',
      text,
    );
  }
});

test('validation errors: one entry per field, as JSON Pointers [RFC9457]', () => {
  const errors = toFieldErrors([
    {
      keyword: 'required',
      instancePath: '',
      params: { missingProperty: 'title' },
      message: "must have required property 'title'",
    },
    {
      keyword: 'additionalProperties',
      instancePath: '',
      params: { additionalProperty: 'a/b~c' },
      message: 'x',
    },
    {
      keyword: 'minLength',
      instancePath: '/content',
      params: {},
      message: 'must NOT have fewer than 1 characters',
    },
    {
      keyword: 'pattern',
      instancePath: '/content',
      params: { pattern: '^x$' },
      message: 'second error, same field',
    },
  ]);
  assert.deepEqual(errors, [
    { path: '/title', message: 'is required' },
    { path: '/a~1b~0c', message: 'is not an accepted field' },
    { path: '/content', message: 'must NOT have fewer than 1 characters' },
  ]);
});

test('node:sqlite adapter: timestamptz and boolean columns round-trip as Date and boolean', () => {
  const database = adaptNodeSqlite(new DatabaseSync(':memory:'));
  database.prepare('create table t (at timestamptz, flag boolean, n integer)').run([]);
  const at = new Date('2026-11-22T17:54:17.123Z');
  const insert = database.prepare('insert into t (at, flag, n) values (?, ?, ?) returning n');
  assert.equal(insert.reader, true, 'RETURNING makes a statement a reader');
  const plain = (rows: unknown[]) => rows.map((row) => ({ ...(row as object) }));
  assert.deepEqual(plain(insert.all([at, true, 7])), [{ n: 7 }]);
  database.prepare('insert into t (at, flag, n) values (?, ?, ?)').run([null, false, 8]);
  const rows = plain(database.prepare('select at, flag, n from t order by n').all([]));
  assert.deepEqual(rows, [
    { at, flag: true, n: 7 },
    { at: null, flag: false, n: 8 },
  ]);
  const ordered = plain(
    database.prepare('select n from t where at < ?').all([new Date('2027-01-01T00:00:00.000Z')]),
  );
  assert.deepEqual(ordered, [{ n: 7 }], 'ISO text compares as time does');
  database.close();
});

test('error classification: a lost database is a 503 with Retry-After, an unknown error a 500 without detail', () => {
  for (const error of [
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    new Error('timeout exceeded when trying to connect'),
    Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
  ]) {
    assert.deepEqual(classifyError(error), {
      status: 503,
      code: 'unavailable',
      headers: { 'retry-after': '5' },
      detail: 'the database is unavailable; try again shortly',
    });
  }
  const unknown = classifyError(new TypeError('cannot read properties of undefined'));
  assert.equal(unknown.status, 500);
  assert.doesNotMatch(unknown.detail, /undefined|TypeError/);
});

test('client addresses: every spelling of one address is one key; IPv4-mapped is IPv4; IPv6 counts per /64', () => {
  for (const spelling of [
    '203.0.113.5',
    '::ffff:203.0.113.5',
    '::ffff:cb00:7105',
    '0:0:0:0:0:ffff:cb00:7105',
    '0000:0000:0000:0000:0000:FFFF:CB00:7105',
    '[::ffff:203.0.113.5]',
  ]) {
    assert.equal(canonicalAddress(spelling), '203.0.113.5', spelling);
  }
  for (const spelling of [
    '2001:db8:1:2::9',
    '2001:0DB8:0001:0002:aaaa:bbbb:cccc:dddd',
    'fe80::1%eth0'.replace('fe80::', '2001:db8:1:2::'),
  ]) {
    assert.equal(canonicalAddress(spelling), '2001:db8:1:2::/64', spelling);
  }
  assert.equal(canonicalAddress('2001:db8:1:3::9'), '2001:db8:1:3::/64');
  assert.equal(canonicalAddress('::1'), '0:0:0:0::/64');
  assert.equal(canonicalAddress('not-an-address'), 'not-an-address');
});
