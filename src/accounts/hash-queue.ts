import { availableParallelism } from 'node:os';
import { ServiceUnavailableError } from '../http/errors.ts';
import { hashPassword, verifyDummyPassword, verifyPassword } from './passwords.ts';

/**
 * Every Argon2id hash and verification goes through one bounded queue (API.md "Abuse limits"): at
 * most `concurrency` run at once, so a flood of logins or signups can take only that many of libuv's
 * threads (token verification and file I/O keep the rest), and at most `maxWaiting` wait, each
 * holding a password and later 19 MiB — beyond that the answer is 503 with Retry-After at once,
 * never an unbounded pile.
 */
export interface HashQueue {
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Running and waiting now (for /metrics). */
  readonly running: number;
  readonly waiting: number;
}

export function createHashQueue(
  options: { concurrency?: number; maxWaiting?: number; onWait?: (seconds: number) => void } = {},
): HashQueue {
  const concurrency = options.concurrency ?? availableParallelism();
  const maxWaiting = options.maxWaiting ?? 64;
  const waiting: Array<() => void> = [];
  let running = 0;

  const next = () => {
    running -= 1;
    const start = waiting.shift();
    if (start) start();
  };

  return {
    async run(task) {
      if (running >= concurrency) {
        if (waiting.length >= maxWaiting) {
          throw new ServiceUnavailableError('too many password checks are waiting; try again shortly', 1);
        }
        const queuedAt = performance.now();
        await new Promise<void>((resolve) => waiting.push(resolve));
        options.onWait?.((performance.now() - queuedAt) / 1000);
      } else {
        options.onWait?.(0);
      }
      running += 1;
      try {
        return await task();
      } finally {
        next();
      }
    },
    get running() {
      return running;
    },
    get waiting() {
      return waiting.length;
    },
  };
}

/** The password functions, each through the queue. */
export interface Hasher {
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<boolean>;
  /** An unknown login's verification against a dummy hash: same cost, always false. */
  verifyDummy(password: string): Promise<false>;
}

export function createHasher(queue: HashQueue): Hasher {
  return {
    hash: (password) => queue.run(() => hashPassword(password)),
    verify: (passwordHash, password) => queue.run(() => verifyPassword(passwordHash, password)),
    verifyDummy: (password) => queue.run(() => verifyDummyPassword(password)),
  };
}
