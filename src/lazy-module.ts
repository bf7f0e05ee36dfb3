import { createRequire } from 'node:module';

const requireModule = createRequire(import.meta.url);

/**
 * A package loaded when first used instead of at start (`npm start` to the first answer under a
 * second; a process that never mails, renders Markdown or enrols a passkey never holds those
 * packages). The load is synchronous — Node's require, which also takes ES modules — so callers stay
 * as they are; the first call pays it once.
 */
export function lazyModule<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= requireModule(name) as T;
    return loaded;
  };
}
