import { createHash, randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import type { TestApp } from './app.ts';

/**
 * A browser for fastify.inject: it keeps cookies, reads forms' hidden fields, and posts them. Two
 * given the same `cookies` are one browser behind a load balancer, each request to its own instance.
 */
export function injectBrowser(testApp: TestApp, cookies = new Map<string, string>()) {
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
      return take(await testApp.app.inject({ method: 'GET', url, headers: { cookie: cookie() } }));
    },
    async post(url: string, form: Record<string, string>) {
      return take(
        await testApp.app.inject({
          method: 'POST',
          url,
          headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' },
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

/** The hidden fields of the page's form (every page form carries the request and its csrf token). */
export function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
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
