import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomClientId } from '../../src/oauth/clients/service.ts';

test('a client_id is 22 base64url characters that never start with "-" (a command line would read an option) nor equal the taken one', () => {
  // 0xf8 starts "-" in base64url (its first six bits are 62); 0x00 starts "A".
  const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x00), Buffer.alloc(16, 0x04)];
  const random = (size: number) => {
    assert.equal(size, 16);
    return draws.shift()!;
  };
  const taken = Buffer.alloc(16, 0x00).toString('base64url');
  assert.equal(Buffer.alloc(16, 0xf8).toString('base64url')[0], '-');
  const id = randomClientId(taken, random);
  assert.equal(id, Buffer.alloc(16, 0x04).toString('base64url'));
  assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  assert.equal(draws.length, 0, 'the leading "-" and the taken id were both drawn again');
  for (let i = 0; i < 1000; i += 1) assert.match(randomClientId(taken), /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
});
