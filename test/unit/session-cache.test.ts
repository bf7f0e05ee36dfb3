import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createManualClock } from '../../src/clock.ts';
import { createSessionCache, type SessionState } from '../../src/sessions/cache.ts';

function fixture() {
  const clock = createManualClock();
  const rows = new Map<string, SessionState>();
  let loads = 0;
  let gate: Promise<void> | undefined;
  const cache = createSessionCache({
    clock,
    load: async (sid) => {
      loads += 1;
      const state = rows.get(sid);
      if (gate) await gate;
      return state;
    },
  });
  const put = (sid: string, userId: string, revoked = false) =>
    rows.set(sid, {
      sessionId: sid,
      userId,
      role: 'user',
      disabled: false,
      revoked,
      liveUntil: new Date(8.64e15),
      account: {
        id: userId,
        username: `user-${userId}`,
        email: `${userId}@example.com`,
        email_verified: false,
        pending_email: null,
        full_name: '',
        bio: '',
        image: null,
        role: 'user',
        disabled: false,
        mfa_totp: false,
        mfa_passkeys: 0,
        created_at: new Date(0),
        updated_at: new Date(0),
      },
    });
  return {
    clock,
    cache,
    put,
    loads: () => loads,
    hold: () => {
      let release!: () => void;
      gate = new Promise((resolve) => {
        release = resolve;
      });
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

test('session cache: a fresh entry answers without a load; after one second it is loaded again', async () => {
  const f = fixture();
  f.put('s1', 'u1');
  await f.cache.get('s1');
  f.clock.advance(999);
  await f.cache.get('s1');
  assert.equal(f.loads(), 1);
  f.put('s1', 'u1', true);
  f.clock.advance(1);
  assert.equal((await f.cache.get('s1'))?.revoked, true, 'never trusted for a full second');
  assert.equal(f.loads(), 2);
});

test('session cache: concurrent misses share one load; unknown sessions are cached as unknown', async () => {
  const f = fixture();
  f.put('s1', 'u1');
  await Promise.all([f.cache.get('s1'), f.cache.get('s1'), f.cache.get('s1')]);
  assert.equal(f.loads(), 1);
  assert.equal(await f.cache.get('nope'), undefined);
  assert.equal(await f.cache.get('nope'), undefined);
  assert.equal(f.loads(), 2);
});

test('session cache: a change during a load is not overwritten by the stale answer', async () => {
  const f = fixture();
  f.put('s1', 'u1');
  const release = f.hold();
  const inFlight = f.cache.get('s1'); // reads the live row, then waits
  f.put('s1', 'u1', true); // revoked meanwhile …
  f.cache.forgetSession('s1'); // … and this instance forgets
  release();
  assert.equal((await inFlight)?.revoked, false, 'the request already under way sees what it read');
  assert.equal((await f.cache.get('s1'))?.revoked, true, 'the next one does not get the stale entry');
});

test('session cache: forgetUser drops every session of that user and no other', async () => {
  const f = fixture();
  f.put('a1', 'alice');
  f.put('a2', 'alice');
  f.put('b1', 'bob');
  for (const sid of ['a1', 'a2', 'b1']) await f.cache.get(sid);
  assert.equal(f.loads(), 3);
  f.cache.forgetUser('alice');
  for (const sid of ['a1', 'a2', 'b1']) await f.cache.get(sid);
  assert.equal(f.loads(), 5, 'alice’s two sessions loaded again, bob’s not');
});
