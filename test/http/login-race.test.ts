import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { systemClock } from '../../src/clock.ts';
import { createMemoryLoginThrottle, type LoginThrottle } from '../../src/login/throttle.ts';
import {
  bearer,
  buildTestApp,
  createUser,
  describeEachEngine,
  login,
  type TestApp,
  type TestUser,
  tokenFor,
} from '../helpers/app.ts';

const ROUNDS = 20;

/** The user's sessions that still stand in the database. */
async function liveSessions(testApp: TestApp, user: TestUser): Promise<string[]> {
  const rows = await testApp.database.db
    .selectFrom('sessions')
    .select('id')
    .where('user_id', '=', user.id)
    .where('revoked_at', 'is', null)
    .execute();
  return rows.map((row) => row.id);
}

/**
 * A throttle that holds every login at the point where it has read the user (its hash and session
 * epoch) but not yet verified the password: the change under test then lands exactly in the window
 * the attack used, every round, instead of by luck of timing.
 */
function createGatedThrottle() {
  const inner = createMemoryLoginThrottle(systemClock);
  let waiting: Array<() => void> = [];
  let arrived = 0;
  let armed = false;
  const throttle: LoginThrottle = {
    attempt: async (login) => {
      if (armed) {
        arrived += 1;
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
      return inner.attempt(login);
    },
    attemptInSession: (sessionId) => inner.attemptInSession(sessionId),
  };
  return {
    throttle,
    arm() {
      armed = true;
    },
    /** Resolves once `count` logins have read the user and wait at the gate. */
    async held(count: number) {
      while (arrived < count) await sleep(1);
      arrived = 0;
    },
    release() {
      armed = false;
      for (const resolve of waiting) resolve();
      waiting = [];
    },
  };
}

/** Four logins read the user, `change` runs, then they verify and try to create their sessions. */
async function race(
  gate: ReturnType<typeof createGatedThrottle>,
  testApp: TestApp,
  user: TestUser,
  change: () => Promise<void>,
) {
  gate.arm();
  const logins = Array.from({ length: 4 }, () => login(testApp, user));
  await gate.held(4);
  try {
    await change();
  } finally {
    // Released even when the change failed: logins left at the gate would hold the suite forever.
    gate.release();
  }
  return Promise.all(logins);
}

describeEachEngine('A login racing a password change, a disable or a logout-everywhere', (engine) => {
  const setup = async (t: TestContext) => {
    const gate = createGatedThrottle();
    return { gate, testApp: await buildTestApp(t, { engine, throttle: gate.throttle }) };
  };

  test(`password change: in ${ROUNDS} rounds, no login that read the old password leaves a session`, async (t) => {
    const { gate, testApp } = await setup(t);
    for (let round = 0; round < ROUNDS; round += 1) {
      const user = await createUser(testApp);
      const owner = (await login(testApp, user)).json().access_token as string;
      const results = await race(gate, testApp, user, async () => {
        const changed = await testApp.app.inject({
          method: 'POST',
          url: '/users/me/password',
          headers: bearer(owner),
          payload: { current_password: user.password, new_password: `a new passphrase for round ${round}` },
        });
        assert.equal(changed.statusCode, 204, changed.body);
      });
      assert.deepEqual(
        results.map((response) => response.statusCode),
        [400, 400, 400, 400],
      );
      assert.deepEqual(await liveSessions(testApp, user), [decodeJwt(owner).sid], `round ${round}`);
    }
  });

  test(`disable then re-enable: in ${ROUNDS} rounds, no login begun before the disable leaves a session`, async (t) => {
    const { gate, testApp } = await setup(t);
    const admin = await createUser(testApp, { role: 'admin' });
    const adminToken = await tokenFor(testApp, admin);
    const setDisabled = async (user: TestUser, disabled: boolean) => {
      const response = await testApp.app.inject({
        method: 'PATCH',
        url: `/users/${user.id}`,
        headers: bearer(adminToken),
        payload: { disabled },
      });
      assert.equal(response.statusCode, 200);
    };
    for (let round = 0; round < ROUNDS; round += 1) {
      const user = await createUser(testApp);
      await race(gate, testApp, user, async () => {
        await setDisabled(user, true);
        await setDisabled(user, false);
      });
      assert.deepEqual(await liveSessions(testApp, user), [], `round ${round}`);
      assert.equal((await login(testApp, user)).statusCode, 200, 'a login after the re-enable works');
    }
  });

  test(`logout everywhere: in ${ROUNDS} rounds, a login already under way leaves no live session`, async (t) => {
    const { gate, testApp } = await setup(t);
    for (let round = 0; round < ROUNDS; round += 1) {
      const user = await createUser(testApp);
      const token = await tokenFor(testApp, user);
      await race(gate, testApp, user, async () => {
        const response = await testApp.app.inject({
          method: 'DELETE',
          url: '/users/me/sessions',
          headers: bearer(token),
        });
        assert.equal(response.statusCode, 204);
      });
      assert.deepEqual(await liveSessions(testApp, user), [], `round ${round}`);
    }
  });
});
