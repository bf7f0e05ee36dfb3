import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { type Html, html } from './template.ts';

/** The largest form a page posts (a password and a few hidden fields): far below the API's body limit. */
export const PAGE_FORM_LIMIT = 16 * 1024;

/** The hidden field every page form carries back (API.md "Authorization": the pages' rules). */
export const CSRF_FIELD = 'csrf';

/** How long a page's form stays good: long enough to type a password, short enough to go stale. */
const FORM_TTL_MS = 60 * 60 * 1000;

export type FormTokens = ReturnType<typeof createFormTokens>;

/**
 * Tokens against cross-site request forgery for the pages' forms: an HMAC, under a server key, of
 * what the form is bound to (the browser's pending sign-in, its sign-in session: never something a
 * cross-site page can learn) and an expiry. A POST whose token was not made for this binding, or is
 * stale, is refused: a form from another site, or from another browser's page, carries none that fits.
 */
export function createFormTokens(deps: { key: () => Promise<Buffer>; clock: Clock }) {
  const mac = async (binding: string, expires: string) =>
    createHmac('sha256', await deps.key())
      .update(`${expires}.${binding}`)
      .digest();

  return {
    /** A token for a form bound to `binding` (non-empty). */
    async issue(binding: string): Promise<string> {
      if (binding === '') throw new Error('a form token needs something to be bound to');
      const expires = String(deps.clock.now().getTime() + FORM_TTL_MS);
      return `${expires}.${(await mac(binding, expires)).toString('base64url')}`;
    },

    /** Whether `token` was issued for `binding` and is not stale; constant time in the MAC. */
    async valid(token: unknown, binding: string): Promise<boolean> {
      if (typeof token !== 'string' || binding === '') return false;
      const match = /^(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(token);
      if (!match) return false;
      const [, expires, given] = match as unknown as [string, string, string];
      if (Number(expires) <= deps.clock.now().getTime()) return false;
      return timingSafeEqual(Buffer.from(given, 'base64url'), await mac(binding, expires));
    },
  };
}

/** The hidden field of a form token, for a page's form. */
export const csrfField = (token: string): Html =>
  html`<input type="hidden" name="${CSRF_FIELD}" value="${token}">`;
