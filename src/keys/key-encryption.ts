import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ServiceUnavailableError } from '../http/errors.ts';

/**
 * Keys and secrets that inkgate keeps in the database, sealed with AES-256-GCM under
 * KEY_ENCRYPTION_KEY (32 bytes, from outside the database): a copy of the database alone holds no
 * usable key. Each value is bound to where it is stored (`context`, the GCM additional data), so a
 * sealed value moved to another row does not open. Stored as `enc:v1:<iv>.<ciphertext>.<tag>`.
 */
export interface KeyCipher {
  /** Whether values are sealed (KEY_ENCRYPTION_KEY is set). */
  readonly sealing: boolean;
  seal(plain: string, context: string): string;
  /** Throws when the value is sealed and this cipher cannot open it. */
  open(stored: string, context: string): string;
}

const PREFIX = 'enc:v1:';

/**
 * A key kept in the database does not open with this instance's KEY_ENCRYPTION_KEY: at start the
 * instance refuses to run (one line naming the variable); met while serving, it is a 503 whose cause
 * is logged — the operator's to fix, never a 500.
 */
export class KeyEncryptionError extends ServiceUnavailableError {
  /** For the operator (the log, the start-up line); clients get the plain detail. */
  readonly reason: string;
  constructor(reason: string) {
    super('the server cannot open its keys; try again later', 30, { cause: new Error(reason) });
    this.name = 'KeyEncryptionError';
    this.reason = reason;
  }
}

export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

export function createKeyCipher(key: Uint8Array | undefined): KeyCipher {
  return {
    sealing: key !== undefined,
    seal(plain, context) {
      if (key === undefined) return plain;
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(context));
      const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `${PREFIX}${iv.toString('base64url')}.${sealed.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
    },
    open(stored, context) {
      if (!isSealed(stored)) return stored; // kept before KEY_ENCRYPTION_KEY was set (sealed at start)
      if (key === undefined) {
        throw new KeyEncryptionError(
          'KEY_ENCRYPTION_KEY: the database holds encrypted keys; set the KEY_ENCRYPTION_KEY the other instances use',
        );
      }
      const [iv, sealed, tag] = stored.slice(PREFIX.length).split('.') as [string, string, string];
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
          .setAAD(Buffer.from(context))
          .setAuthTag(Buffer.from(tag ?? '', 'base64url'));
        return Buffer.concat([
          decipher.update(Buffer.from(sealed ?? '', 'base64url')),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw new KeyEncryptionError(
          'KEY_ENCRYPTION_KEY: a key kept in the database does not open with this one; every instance needs the same KEY_ENCRYPTION_KEY',
        );
      }
    },
  };
}
