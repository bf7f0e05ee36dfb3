import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { hashSync, verifySync } from '@node-rs/argon2';

/**
 * One Argon2id thread (see password-threads.ts): it hashes and verifies synchronously, one task at a
 * time, on its own thread — not on libuv's pool, which the log writes and file reads of requests use —
 * and at a low scheduling priority (Linux's nice is per thread), so that on a busy core the
 * event loop runs first and a login storm cannot take the core from the requests.
 */
export interface HashTask {
  readonly id: number;
  readonly op: 'hash' | 'verify';
  readonly password: string;
  readonly hash?: string;
  readonly options?: object;
}

export type HashAnswer =
  | { readonly id: number; readonly value: string | boolean }
  | { readonly id: number; readonly error: string };

/**
 * Linux's nice 10: about a tenth of a core the event loop also wants (CFS weights 110 against 1024),
 * so that a saturated single core still serves logins (nice 19 measured 3 logins a second there
 * while the protected reads kept 0.81 of their quiet rate), and all of any core it has to itself.
 */
const NICE = 10;
try {
  // /proc/thread-self names this thread; its stat's first field is the thread's id.
  const tid = Number(readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0]);
  setPriority(tid, NICE);
} catch {
  // Not Linux, or not allowed: the thread runs at normal priority, still off the request path's pool.
}

parentPort?.on('message', (task: HashTask) => {
  try {
    const value =
      task.op === 'hash' ? hashSync(task.password, task.options) : verifySync(task.hash ?? '', task.password);
    parentPort?.postMessage({ id: task.id, value } satisfies HashAnswer);
  } catch (error) {
    parentPort?.postMessage({ id: task.id, error: error instanceof Error ? error.message : String(error) });
  }
});
