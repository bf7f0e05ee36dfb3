import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryLoginThrottle, type LoginThrottle } from '../../src/auth/throttle.ts';
import { createManualClock } from '../../src/clock.ts';

const MINUTE = 60_000;

function fail(throttle: LoginThrottle, account: string, address: string) {
  const attempt = throttle.attempt(account, address);
  assert.equal(attempt.allowed, true, `${account} from ${address} should be allowed`);
}

test('throttle: the window slides: after the oldest failure ages out, exactly one more attempt is allowed', () => {
  const clock = createManualClock();
  const throttle = createMemoryLoginThrottle(clock);
  for (let i = 0; i < 5; i += 1) {
    fail(throttle, 'alice', '1.1.1.1');
    clock.advance(MINUTE);
  }
  // Failures at minutes 0..4; now minute 5.
  const blocked = throttle.attempt('alice', '1.1.1.1');
  assert.deepEqual(blocked, { allowed: false, retryAfterSeconds: 600 });
  clock.advance(10 * MINUTE); // minute 15: the failure at minute 0 is 15 minutes old
  fail(throttle, 'alice', '1.1.1.1');
  const again = throttle.attempt('alice', '1.1.1.1');
  assert.equal(again.allowed, false, 'a fixed window would have reset here; the sliding one does not');
  assert.equal(!again.allowed && again.retryAfterSeconds, 60);
});

test('throttle: blocked attempts do not extend the block', () => {
  const clock = createManualClock();
  const throttle = createMemoryLoginThrottle(clock);
  for (let i = 0; i < 5; i += 1) fail(throttle, 'bob', '2.2.2.2');
  for (let i = 0; i < 20; i += 1) {
    clock.advance(30_000);
    throttle.attempt('bob', '2.2.2.2');
  }
  clock.advance(5 * MINUTE);
  assert.equal(throttle.attempt('bob', '2.2.2.2').allowed, true);
});

test('throttle: another address still gets its own 5 tries, up to 50 for the account', () => {
  const clock = createManualClock();
  const throttle = createMemoryLoginThrottle(clock);
  for (let i = 0; i < 5; i += 1) fail(throttle, 'carol', '3.3.3.3');
  assert.equal(throttle.attempt('carol', '3.3.3.3').allowed, false);
  fail(throttle, 'carol', '4.4.4.4');

  // 50 failures for one account from many addresses lock the account everywhere.
  const spread = createMemoryLoginThrottle(clock);
  for (let i = 0; i < 50; i += 1) fail(spread, 'dave', `10.0.0.${i}`);
  assert.equal(spread.attempt('dave', '10.0.1.1').allowed, false);
});

test('throttle: 100 failures from one address block it for every account', () => {
  const clock = createManualClock();
  const throttle = createMemoryLoginThrottle(clock);
  for (let i = 0; i < 100; i += 1) fail(throttle, `user${i}`, '5.5.5.5');
  assert.equal(throttle.attempt('someone-new', '5.5.5.5').allowed, false);
  assert.equal(throttle.attempt('someone-new', '6.6.6.6').allowed, true);
});

test('throttle: a success gives back its reservation and clears the account-and-address count', () => {
  const clock = createManualClock();
  const throttle = createMemoryLoginThrottle(clock);
  for (let i = 0; i < 4; i += 1) fail(throttle, 'erin', '7.7.7.7');
  const attempt = throttle.attempt('erin', '7.7.7.7');
  assert.ok(attempt.allowed);
  attempt.succeeded();
  for (let i = 0; i < 5; i += 1) fail(throttle, 'erin', '7.7.7.7');
  assert.equal(throttle.attempt('erin', '7.7.7.7').allowed, false);
});

test('throttle: parallel attempts reserve their slot before the password is checked', () => {
  const clock = createManualClock();
  const throttle = createMemoryLoginThrottle(clock);
  // Ten guesses arrive together; none has finished verifying yet. Only five may proceed.
  const outcomes = Array.from({ length: 10 }, () => throttle.attempt('frank', '8.8.8.8'));
  assert.equal(outcomes.filter((o) => o.allowed).length, 5);
});
