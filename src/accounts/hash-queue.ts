import { availableParallelism } from 'node:os';
import { HttpError, ServiceUnavailableError } from '../http/errors.ts';
import { hashPassword, verifyDummyPassword, verifyPassword } from './passwords.ts';

/**
 * Every Argon2id hash and verification goes through one bounded queue (API.md "Abuse limits"): at
 * most `concurrency` run at once, so a flood of logins or signups can take only that many threads
 * (password-threads.ts: their own, at nice 10; by default the cores but the event
 * loop's), and at most `maxWaiting` wait, each
 * holding a password and later 19 MiB — beyond that the answer is 503 with Retry-After at once,
 * never an unbounded pile. And no one fills it: each owner of a task (a client address, an account)
 * may hold at most `share` places, running or waiting; beyond that, 429 at once. An attacker with
 * one address and one account holds `share` places however many requests it has in flight, and
 * everyone else's checks go on in the rest.
 */
export interface HashQueue {
  /** `owners` are the keys whose shares the task counts against (see hashOwners). */
  run<T>(task: () => Promise<T>, owners?: readonly string[]): Promise<T>;
  /** Running and waiting now (for /metrics). */
  readonly running: number;
  readonly waiting: number;
}

/** An owner already holds its share of the queue (HASH_SHARE): 429 slow_down, never a failed login. */
export class HashShareError extends HttpError {
  constructor() {
    super(429, 'slow_down', 'too many password checks from this address or for this account are under way', {
      headers: { 'retry-after': '1' },
    });
  }
}

/** Argon2id's threads by default: the cores but the event loop's, at least one. */
export function defaultHashConcurrency(): number {
  return Math.max(1, availableParallelism() - 1);
}

export function createHashQueue(
  options: {
    concurrency?: number;
    maxWaiting?: number;
    /** Places one owner may hold, running or waiting (HASH_SHARE). */
    share?: number;
    onWait?: (seconds: number) => void;
  } = {},
): HashQueue {
  const concurrency = options.concurrency ?? defaultHashConcurrency();
  const maxWaiting = options.maxWaiting ?? 64;
  const share = options.share ?? 4;
  const waiting: Array<() => void> = [];
  const held = new Map<string, number>();
  let running = 0;

  const next = () => {
    running -= 1;
    const start = waiting.shift();
    if (start) start();
  };
  const release = (owners: readonly string[]) => {
    for (const owner of owners) {
      const count = (held.get(owner) ?? 1) - 1;
      if (count === 0) held.delete(owner);
      else held.set(owner, count);
    }
  };

  return {
    async run(task, owners = []) {
      if (owners.some((owner) => (held.get(owner) ?? 0) >= share)) throw new HashShareError();
      const mustWait = running >= concurrency;
      if (mustWait && waiting.length >= maxWaiting) {
        throw new ServiceUnavailableError('too many password checks are waiting; try again shortly', 1);
      }
      for (const owner of owners) held.set(owner, (held.get(owner) ?? 0) + 1);
      try {
        if (mustWait) {
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
      } finally {
        release(owners);
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

/** Who a password check is for: the client address (canonical) and, when known, the account. */
export interface HashOwners {
  readonly address?: string | undefined;
  readonly account?: string | undefined;
}

function ownerKeys(owners: HashOwners | undefined): string[] {
  const keys: string[] = [];
  if (owners?.address) keys.push(`address:${owners.address}`);
  if (owners?.account) keys.push(`account:${owners.account}`);
  return keys;
}

/** The password functions, each through the queue, counted against its owners' shares. */
export interface Hasher {
  hash(password: string, owners?: HashOwners): Promise<string>;
  verify(passwordHash: string, password: string, owners?: HashOwners): Promise<boolean>;
  /** An unknown login's verification against a dummy hash: same cost, always false. */
  verifyDummy(password: string, owners?: HashOwners): Promise<false>;
}

export function createHasher(queue: HashQueue): Hasher {
  return {
    hash: (password, owners) => queue.run(() => hashPassword(password), ownerKeys(owners)),
    verify: (passwordHash, password, owners) =>
      queue.run(() => verifyPassword(passwordHash, password), ownerKeys(owners)),
    verifyDummy: (password, owners) => queue.run(() => verifyDummyPassword(password), ownerKeys(owners)),
  };
}
