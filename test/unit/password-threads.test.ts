import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { hashPassword, verifyDummyPassword, verifyPassword } from '../../src/accounts/passwords.ts';

test('Argon2id on its own threads: a hash verifies, a wrong or NFKC-different password does not, a malformed hash never matches', async () => {
  const hash = await hashPassword('ｐａｓｓ word 42');
  assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal(
    await verifyPassword(hash, 'pass word 42'),
    true,
    'NFKC: the same password typed on another keyboard',
  );
  assert.equal(await verifyPassword(hash, 'pass word 43'), false);
  assert.equal(await verifyPassword('not a hash', 'pass word 42'), false);
  assert.equal(await verifyDummyPassword('anything'), false);
  // Several at once each get their own answer.
  const many = await Promise.all(['a1', 'b2', 'c3'].map(async (p) => [p, await hashPassword(p)] as const));
  for (const [password, hashed] of many) assert.equal(await verifyPassword(hashed, password), true);
});

test('the password threads run at a low priority (nice 10), not on libuv’s pool', {
  skip: process.platform !== 'linux',
}, async () => {
  await hashPassword('a password'); // a password thread exists
  // A thread of this process runs at nice 10 (a password thread); the main thread keeps its own.
  const nice = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  const threads = readdirSync('/proc/self/task').map((tid) =>
    nice(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')),
  );
  assert.ok(threads.includes(10), 'a thread at nice 10');
  assert.equal(nice(readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')), 0, 'the event loop at 0');
});
