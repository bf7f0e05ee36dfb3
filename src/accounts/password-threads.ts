import { Worker } from 'node:worker_threads';
import type { HashAnswer, HashTask } from './hash-worker.ts';

/**
 * The threads Argon2id runs on: one worker thread per hash running at once (the hash queue bounds
 * how many: HASH_CONCURRENCY), made when first needed and kept. A thread keeps the process alive
 * only while it works; one that fails or exits is dropped, failing the task it held.
 */
const idle: Worker[] = [];
const busy = new Map<Worker, { resolve(value: string | boolean): void; reject(error: Error): void }>();

function spawn(): Worker {
  const worker = new Worker(new URL('./hash-worker.ts', import.meta.url));
  const settle = (answer: HashAnswer | { error: Error }) => {
    const waiting = busy.get(worker);
    busy.delete(worker);
    worker.unref();
    if (!('error' in answer)) waiting?.resolve(answer.value);
    else waiting?.reject(answer.error instanceof Error ? answer.error : new Error(answer.error));
  };
  worker.on('message', (answer: HashAnswer) => {
    settle(answer);
    idle.push(worker);
  });
  const lost = (error: Error) => {
    const at = idle.indexOf(worker);
    if (at >= 0) idle.splice(at, 1);
    settle({ error });
  };
  worker.on('error', lost);
  worker.on('exit', (code) => lost(new Error(`the password thread exited (${code})`)));
  return worker;
}

/** Runs one task on an idle thread (a new one when none is idle). */
export function onHashThread(task: Omit<HashTask, 'id'>): Promise<string | boolean> {
  const worker = idle.pop() ?? spawn();
  worker.ref();
  return new Promise((resolve, reject) => {
    busy.set(worker, { resolve, reject });
    worker.postMessage({ ...task, id: 0 });
  });
}
