import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createManualClock } from '../../src/clock.ts';
import { feedErrorLogger } from '../../src/db/change-watch.ts';
import {
  createSessionCache,
  type SessionChange,
  type SessionFeed,
  type SessionState,
} from '../../src/sessions/cache.ts';
import { captureLogs } from '../helpers/app.ts';

/** A change feed the test writes to and can make fail; each look hands over what was written. */
function fakeFeed() {
  let written: SessionChange[] = [];
  let complete = true;
  let failing = false;
  let looks = 0;
  const feed: SessionFeed = {
    look: async () => {
      looks += 1;
      if (failing) throw new Error('the database does not answer');
      const changes = written;
      written = [];
      const whole = complete;
      complete = true;
      return { changes, complete: whole };
    },
  };
  return {
    feed,
    write: (kind: SessionChange['kind'], subject: string) => written.push({ kind, subject }),
    overflow: () => {
      complete = false;
    },
    fail: (yes: boolean) => {
      failing = yes;
    },
    looks: () => looks,
  };
}

/** A cache with a fake feed, after its first look (which forgets everything before it). */
async function lookedOnce() {
  const feed = fakeFeed();
  const f = fixture({ feed: feed.feed });
  await f.cache.caughtUp();
  return { feed, f };
}

function fixture(options: { feed?: SessionFeed; monotonic?: () => number } = {}) {
  const clock = createManualClock();
  const rows = new Map<string, SessionState>();
  let loads = 0;
  let gate: Promise<void> | undefined;
  const cache = createSessionCache({
    clock,
    ...options,
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

test('session cache with the change feed: an entry is trusted past one second while looks succeed, and what a look names is forgotten', async () => {
  const { feed, f } = await lookedOnce();
  f.put('s1', 'u1');
  f.put('s2', 'u2');
  f.put('s3', 'u2');
  for (const sid of ['s1', 's2', 's3']) await f.cache.get(sid);
  f.clock.advance(5000);
  await f.cache.caughtUp();
  for (const sid of ['s1', 's2', 's3']) await f.cache.get(sid);
  assert.equal(f.loads(), 3, 'five seconds on, no load: the last look began less than a second ago');

  f.put('s1', 'u1', true);
  feed.write('session', 's1');
  feed.write('user', 'u2');
  assert.equal((await f.cache.get('s1'))?.revoked, false, 'until the next look');
  await f.cache.caughtUp();
  assert.equal((await f.cache.get('s1'))?.revoked, true, 'the named session is read again');
  await f.cache.get('s2');
  await f.cache.get('s3');
  assert.equal(f.loads(), 6, 'and every session of the named user');
});

test('session cache with the change feed: while looks fail, an entry is trusted one second after it was read, no longer', async () => {
  const { feed, f } = await lookedOnce();
  f.put('s1', 'u1');
  await f.cache.get('s1');
  f.clock.advance(500);
  feed.fail(true);
  await f.cache.caughtUp();
  f.put('s1', 'u1', true); // revoked elsewhere; the feed cannot tell
  f.clock.advance(499);
  assert.equal((await f.cache.get('s1'))?.revoked, false, 'the last good look began 999 ms ago');
  f.clock.advance(1);
  assert.equal(
    (await f.cache.get('s1'))?.revoked,
    true,
    'a second after the last good look, and after the read',
  );
  assert.equal(f.loads(), 2);
});

test('session cache with the change feed: the first look, a look that read only part and one after a long gap forget everything', async () => {
  const feed = fakeFeed();
  let monotonic = 0;
  const f = fixture({ feed: feed.feed, monotonic: () => monotonic });
  f.put('s1', 'u1');
  await f.cache.get('s1'); // read before the first look: what changed before it is unknown
  await f.cache.caughtUp();
  await f.cache.get('s1');
  assert.equal(f.loads(), 2, 'the first look');

  feed.overflow();
  await f.cache.caughtUp();
  await f.cache.get('s1');
  assert.equal(f.loads(), 3, 'a look that found more than it read');

  monotonic += 4 * 60_000;
  await f.cache.caughtUp();
  await f.cache.get('s1');
  assert.equal(f.loads(), 3, 'four minutes between looks: nothing the purge could have taken');
  monotonic += 5 * 60_000 + 1;
  await f.cache.caughtUp();
  await f.cache.get('s1');
  assert.equal(f.loads(), 4, 'over five minutes: rows may be gone, so everything goes');
});

test('session cache with the change feed: an entry is read again at least once a minute, and a load under way when a look names it is not kept', async () => {
  const { feed, f } = await lookedOnce();
  f.put('s1', 'u1');
  await f.cache.get('s1');
  f.clock.advance(59_999);
  await f.cache.caughtUp();
  await f.cache.get('s1');
  assert.equal(f.loads(), 1);
  f.clock.advance(1);
  await f.cache.caughtUp();
  await f.cache.get('s1');
  assert.equal(f.loads(), 2, 'a minute after it was read');

  f.clock.advance(60_000);
  await f.cache.caughtUp();
  const release = f.hold();
  const inFlight = f.cache.get('s1');
  f.put('s1', 'u1', true);
  feed.write('session', 's1');
  await f.cache.caughtUp();
  release();
  assert.equal((await inFlight)?.revoked, false);
  assert.equal((await f.cache.get('s1'))?.revoked, true, 'the stale answer was not kept');
});

test('session cache with the change feed: start looks four times a second until stop, which waits for the look under way', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const feed = fakeFeed();
  const f = fixture({ feed: feed.feed });
  f.cache.start();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(feed.looks(), 1, 'the first look at once');
  for (let i = 0; i < 4; i += 1) {
    t.mock.timers.tick(250);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(feed.looks(), 5);
  await f.cache.stop();
  t.mock.timers.tick(1000);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(feed.looks(), 5, 'none after stop');
});

test('a change feed that cannot be read is logged with its reason and the bound that holds, once a minute at most', () => {
  const { logger, lines } = captureLogs();
  const logged = feedErrorLogger(
    logger,
    'the session change feed cannot be read: each cached session is read again after 1 s',
  );
  for (let i = 0; i < 3; i += 1) logged(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]!);
  assert.equal(line.level, 40);
  assert.equal(line.err, 'connect ECONNREFUSED 127.0.0.1:5432');
  assert.match(line.msg, /change feed cannot be read: each cached session is read again after 1 s/);
});
