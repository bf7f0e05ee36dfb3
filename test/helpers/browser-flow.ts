import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, FORM, signedIn, type TestApp, type TestUser } from './app.ts';

/**
 * A browser for fastify.inject: it keeps cookies, reads forms' hidden fields, and posts them. Two
 * given the same `cookies` are one browser behind a load balancer, each request to its own instance.
 */
export function injectBrowser(
  testApp: TestApp,
  cookies = new Map<string, string>(),
  /** The address its requests come from (fastify.inject's default otherwise). */
  remoteAddress?: string,
) {
  const take = (response: LightMyRequestResponse) => {
    for (const cookie of response.cookies as Array<{ name: string; value: string; maxAge?: number }>) {
      if (cookie.value === '' || cookie.maxAge === 0) cookies.delete(cookie.name);
      else cookies.set(cookie.name, cookie.value);
    }
    return response;
  };
  const cookie = () => [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  return {
    cookies,
    async get(url: string) {
      return take(
        await testApp.app.inject({ method: 'GET', url, remoteAddress, headers: { cookie: cookie() } }),
      );
    },
    async post(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
      return take(
        await testApp.app.inject({
          method: 'POST',
          url,
          remoteAddress,
          headers: { ...headers, cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams(form).toString(),
        }),
      );
    },
  };
}

const decodeEntities = (text: string) =>
  text.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_, name: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[name]!,
  );

/** The hidden fields of a page's form (every page form carries the request and its csrf token). */
export function hiddenFields(html: string, action?: string): Record<string, string> {
  // The page's main form (its first), or the one posting to `action`: a page may hold two (the
  // passkey button's form follows the password form).
  const forms = [...html.matchAll(/<form\b[^>]*\baction="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)];
  const form = action === undefined ? forms[0] : forms.find((match) => match[1] === action);
  const fields: Record<string, string> = {};
  for (const match of (form?.[2] ?? '').matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields[decodeEntities(match[1]!)] = decodeEntities(match[2]!);
  }
  return fields;
}

/** RFC 7636: a verifier and its S256 challenge. */
export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** Signs `browser` in at the login page with no authorization request: the page, then its form. */
export async function signInAtPage(
  browser: ReturnType<typeof injectBrowser>,
  user: { username: string; password: string },
) {
  const page = await browser.get('/account/login');
  return browser.post('/account/login', {
    ...hiddenFields(page.body),
    username: user.username,
    password: user.password,
  });
}

export const REDIRECT = 'http://127.0.0.1/callback';

/** A client registered by a new admin (a public one with REDIRECT by default). */
export async function registerClient(testApp: TestApp, body: Record<string, unknown> = {}) {
  const { token } = await signedIn(testApp, { role: 'admin' });
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/oauth-clients',
    headers: bearer(token),
    payload: { name: 'Notes CLI', type: 'public', redirect_uris: [REDIRECT], ...body },
  });
  assert.equal(response.statusCode, 201, response.body);
  return response.json() as { client_id: string; client_secret?: string };
}

/** An /authorize URL with response_type=code and S256, and `fields`. */
export function authorizeUrl(fields: Record<string, string | undefined>) {
  const query = new URLSearchParams(
    Object.entries({ response_type: 'code', code_challenge_method: 'S256', ...fields }).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
  return `/authorize?${query}`;
}

/** The whole browser part: the login page, its form, the consent page and its approval; the redirect back. */
export async function signInAndApprove(
  browser: ReturnType<typeof injectBrowser>,
  user: TestUser,
  url: string,
) {
  const loginPage = await browser.get(url);
  assert.equal(loginPage.statusCode, 200, loginPage.body);
  const signIn = await browser.post('/account/login', {
    ...hiddenFields(loginPage.body),
    username: user.username,
    password: user.password,
  });
  assert.equal(signIn.statusCode, 303, signIn.body);
  const next = await browser.get(signIn.headers.location as string);
  if (next.statusCode === 303) return new URL(next.headers.location as string);
  assert.equal(next.statusCode, 200, next.body);
  assert.match(next.body, /Allow access\?/);
  const approved = await browser.post('/account/consent', {
    ...hiddenFields(next.body),
    decision: 'approve',
  });
  assert.equal(approved.statusCode, 303, approved.body);
  return new URL(approved.headers.location as string);
}

/** POST /token with grant_type=authorization_code and `fields`. */
export async function redeem(
  testApp: TestApp,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return testApp.app.inject({
    method: 'POST',
    url: '/token',
    headers: { ...FORM, ...headers },
    payload: new URLSearchParams({ grant_type: 'authorization_code', ...fields }).toString(),
  });
}

/** An access token of a third-party client (the whole code flow), for `user`. */
export async function thirdPartyToken(testApp: TestApp, user: TestUser, scope = 'profile'): Promise<string> {
  const client = await registerClient(testApp);
  const { verifier, challenge } = pkce();
  const back = await signInAndApprove(
    injectBrowser(testApp),
    user,
    authorizeUrl({ client_id: client.client_id, redirect_uri: REDIRECT, scope, code_challenge: challenge }),
  );
  const answer = await redeem(testApp, {
    code: back.searchParams.get('code')!,
    code_verifier: verifier,
    client_id: client.client_id,
  });
  assert.equal(answer.statusCode, 200, answer.body);
  return answer.json().access_token;
}
