import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { type Clock, DAY_MS } from '../clock.ts';
import type { Database } from '../db/schema.ts';

/** How long a successful login keeps its address and browser trusted (API.md "No lockout"). */
export const DEVICE_TRUST_DAYS = 30;
const TRUST_MS = DEVICE_TRUST_DAYS * DAY_MS;
/** A user id that no account has: an unknown login still makes the same query as a known one. */
const NO_USER = '00000000-0000-0000-0000-000000000000';

export const DEVICE_COOKIE = 'device';

export type Devices = ReturnType<typeof createDevices>;

/** What a device cookie is bound to: the user, the password and the sessions epoch it was issued under. */
export interface DeviceOwner {
  readonly id: string;
  readonly password_hash: string;
  readonly sessions_epoch: number | string | bigint;
}

/**
 * The cookie's MAC covers what it must die with (API.md "Abuse limits"): a password change or
 * reset changes the hash, and those and logout-everywhere bump the sessions epoch; either voids every
 * device cookie of the user without a row to delete. Neither is in the cookie itself.
 */
const binding = (owner: DeviceOwner) =>
  createHash('sha256')
    .update(`inkgate:device:${owner.password_hash}\u0000${String(owner.sessions_epoch)}`)
    .digest('base64url');

/**
 * Where an account's owner has logged in: (account, canonical address) pairs kept in the database,
 * and a signed `device` cookie for browsers (OWASP "Slow down online guessing attacks with device
 * cookies"). The cookie is `<user id>.<issued, s>.<nonce>.<HMAC>`: it names no secret, and only this
 * server can make one; the nonce names the browser's own throttle bucket.
 */
export function createDevices(deps: { db: Kysely<Database>; clock: Clock; key: () => Promise<Buffer> }) {
  const { db, clock } = deps;

  const sign = async (payload: string, owner: DeviceOwner) =>
    createHmac('sha256', await deps.key())
      .update(`${payload}.${binding(owner)}`)
      .digest('base64url');

  return {
    /** True when the owner logged in successfully from this address in the last 30 days. */
    async isKnownAddress(userId: string | undefined, address: string): Promise<boolean> {
      const row = await db
        .selectFrom('login_addresses')
        .select('last_login_at')
        .where('user_id', '=', userId ?? NO_USER)
        .where('address', '=', address)
        .executeTakeFirst();
      return row !== undefined && clock.now().getTime() - row.last_login_at.getTime() < TRUST_MS;
    },

    async rememberAddress(userId: string, address: string): Promise<void> {
      const now = clock.now();
      await db
        .insertInto('login_addresses')
        .values({ user_id: userId, address, last_login_at: now })
        .onConflict((oc) => oc.columns(['user_id', 'address']).doUpdateSet({ last_login_at: now }))
        .execute();
    },

    /** A fresh cookie value for the user's browser, bound to their password and sessions epoch. */
    async issueCookie(user: DeviceOwner): Promise<string> {
      const payload = `${user.id}.${Math.floor(clock.now().getTime() / 1000)}.${randomBytes(16).toString('base64url')}`;
      return `${payload}.${await sign(payload, user)}`;
    },

    /**
     * The cookie's nonce when it is ours, for this user, under 30 days old and issued under the
     * user's current password and sessions epoch; else undefined.
     */
    async verifyCookie(
      value: string | undefined,
      user: DeviceOwner | undefined,
    ): Promise<string | undefined> {
      if (value === undefined || user === undefined || value.length > 200) return undefined;
      const parts = value.split('.');
      if (parts.length !== 4) return undefined;
      const [owner, issued, nonce, mac] = parts as [string, string, string, string];
      const expected = Buffer.from(await sign(`${owner}.${issued}.${nonce}`, user));
      const given = Buffer.from(mac);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
      const age = clock.now().getTime() - Number(issued) * 1000;
      if (owner !== user.id || !(age >= 0 && age < TRUST_MS)) return undefined;
      return nonce;
    },
  };
}

/** Forgets (account, address) pairs older than the trust period (the hourly purge). */
export async function purgeLoginAddresses(db: Kysely<Database>, now: Date): Promise<number> {
  const result = await db
    .deleteFrom('login_addresses')
    .where('last_login_at', '<', new Date(now.getTime() - TRUST_MS))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
