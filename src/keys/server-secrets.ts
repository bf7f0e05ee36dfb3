import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/schema.ts';
import type { KeyCipher } from './key-encryption.ts';

/** Where a secret is bound to (the GCM additional data). */
export const serverSecretContext = (name: string) => `server_secrets:${name}`;

export type ServerSecrets = ReturnType<typeof createServerSecrets>;

/**
 * Named 256-bit server keys (the refresh-token successor key, the device-cookie key), generated once
 * per database and shared by every instance using it; sealed at rest when KEY_ENCRYPTION_KEY is set.
 * Each is read once and kept for the life of the process.
 */
export function createServerSecrets(db: Kysely<Database>, cipher: KeyCipher, clock: Clock) {
  const cache = new Map<string, Promise<Buffer>>();
  const context = serverSecretContext;

  async function load(name: string): Promise<Buffer> {
    const read = () =>
      db.selectFrom('server_secrets').select('value').where('name', '=', name).executeTakeFirst();
    let row = await read();
    if (!row) {
      const value = cipher.seal(randomBytes(32).toString('base64url'), context(name));
      await db
        .insertInto('server_secrets')
        .values({ name, value, created_at: clock.now() })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      row = await read();
      if (!row) throw new Error(`server secret ${name} could not be stored`);
    }
    return Buffer.from(cipher.open(row.value, context(name)), 'base64url');
  }

  return {
    key(name: string): Promise<Buffer> {
      let key = cache.get(name);
      if (!key) {
        key = load(name);
        // A database outage at first use must not poison every later call.
        key.catch(() => cache.delete(name));
        cache.set(name, key);
      }
      return key;
    },
  };
}
