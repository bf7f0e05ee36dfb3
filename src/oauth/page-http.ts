import { randomBytes } from 'node:crypto';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PAGE_FORM_LIMIT } from '../html/forms.ts';
import { htmlResponse, pageHeaders } from '../html/page.ts';
import { Type } from '../http/json-schema.ts';
import { DEVICE_TRUST_DAYS } from '../login/devices.ts';
import { AUTHORIZE_PARAMETERS, type AuthorizeParameters } from './authorize-request.ts';
import type { Browser, Outcome } from './page-kit.ts';
import { authorizePages } from './pages.ts';

/** Only the authorization request's own fields (a form also carries others; unknown ones go). */
export const parametersOf = (source: Record<string, unknown> | undefined): AuthorizeParameters =>
  Object.fromEntries(
    AUTHORIZE_PARAMETERS.filter((name) => typeof source?.[name] === 'string').map((name) => [
      name,
      source?.[name],
    ]),
  );

/** A bounded form or query field of the pages. */
export const Text = (maxLength: number, description?: string) =>
  Type.Optional(Type.String({ maxLength, ...(description !== undefined && { description }) }));

/** What a page form's POST answers when it cannot be taken: the same for every form. */
export const FORM_REFUSALS = {
  400: htmlResponse('The form is malformed: a field sent twice or too long'),
  403: htmlResponse('Not this browser’s form: nothing changed'),
};

/**
 * Whether a POST comes from a page of this origin, as far as the browser says. Fetch Metadata's
 * Sec-Fetch-Site decides when it is sent: `same-origin` (or `none`: typed by the user). Without it (an
 * older browser), an Origin other than ours refuses; `null` does not, since the pages' own
 * `Referrer-Policy: no-referrer` makes browsers send `Origin: null` on their forms' POSTs (Fetch §3.1).
 * Either way the form token bound to this browser is still required.
 */
export function fromOwnPage(headers: FastifyRequest['headers'], origin: string): boolean {
  const site = headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  return headers.origin === undefined || headers.origin === 'null' || headers.origin === origin;
}

/**
 * The authorization request's parameters (RFC 6749 §4.1.1, RFC 7636 §4.3), as every page's form
 * carries them back; unknown ones are ignored.
 */
export const REQUEST_FIELDS = {
  response_type: Text(40, '`code`'),
  client_id: Text(100),
  redirect_uri: Text(2000, 'one the client registered; may be left out when it has exactly one'),
  scope: Text(200, 'space-separated; absent means all the client may have and the role allows'),
  state: Text(2000, 'returned exactly as sent'),
  code_challenge: Text(128, 'BASE64URL(SHA-256(code_verifier)), RFC 7636'),
  code_challenge_method: Text(10, '`S256` (required: plain is refused)'),
  prompt: Text(20, '`none`, `login` or `consent`'),
  max_age: Text(12, 'seconds: a sign-in older than this signs in again'),
  acr_values: Text(200),
};

/**
 * What every page route of inkgate shares, set up once in the plugin that serves them: form bodies,
 * cookies (`__Host-` and Secure when the issuer is https), the browser a request comes from, the
 * Origin check of their POSTs, their answers (a page with its headers, a 303, or the 403 page), and
 * the 400 page for a request that fails validation.
 */
export async function pageHttp(
  app: FastifyInstance,
  options: { secure: boolean; loginSessionTtlSeconds: number; issuer: string },
) {
  const { secure, loginSessionTtlSeconds } = options;
  const issuerOrigin = new URL(options.issuer).origin;
  await app.register(formbody, { bodyLimit: PAGE_FORM_LIMIT });
  await app.register(cookie);
  const names = Object.fromEntries(
    (['browser', 'signin', 'device', 'pending'] as const).map((name) => [
      name,
      secure ? `__Host-inkgate_${name}` : `inkgate_${name}`,
    ]),
  ) as Record<'browser' | 'signin' | 'device' | 'pending', string>;
  const cookieOptions = { httpOnly: true, secure, sameSite: 'lax' as const, path: '/' };

  // The pages' forms post from inkgate's own pages only: besides the form token bound to this
  // browser, a browser's own word on where a POST comes from (Sec-Fetch-Site, Origin) must say here.
  // /authorize is left out: RFC 6749 §3.1 lets a client's page POST an authorization request.
  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'POST' || !request.url.startsWith('/account/')) return;
    if (!fromOwnPage(request.headers, issuerOrigin)) return answer(reply, 'forbidden');
  });

  /** The browser's binding cookie (made on its first page) and its sign-in. */
  const browserOf = (
    request: FastifyRequest,
    reply: FastifyReply,
    create: boolean,
  ): (Browser & { pending: string | undefined }) | undefined => {
    let id = request.cookies[names.browser];
    if (id === undefined || !/^[A-Za-z0-9_-]{22}$/.test(id)) {
      if (!create) return undefined;
      id = randomBytes(16).toString('base64url');
      reply.setCookie(names.browser, id, cookieOptions);
    }
    return {
      id,
      signin: request.cookies[names.signin],
      device: request.cookies[names.device],
      pending: request.cookies[names.pending],
    };
  };

  /** The cookies of a finished sign-in: the sign-in itself, and the browser's device cookie. */
  const signedIn = (reply: FastifyReply, result: { signin?: string; device?: string | undefined }) => {
    if (result.signin !== undefined) {
      reply.setCookie(names.signin, result.signin, { ...cookieOptions, maxAge: loginSessionTtlSeconds });
    }
    // As at /token: a browser that signed in keeps its own throttle bucket for 30 days, so that
    // strangers' failures never lock its owner out. Sent only on same-site requests (the page's form).
    if (result.device !== undefined) {
      reply.setCookie(names.device, result.device, {
        ...cookieOptions,
        sameSite: 'strict',
        maxAge: DEVICE_TRUST_DAYS * 86_400,
      });
    }
  };

  const answer = (reply: FastifyReply, outcome: Outcome | 'forbidden') => {
    if (outcome === 'forbidden') {
      return reply.code(403).headers(pageHeaders()).send(authorizePages.forbidden());
    }
    if ('location' in outcome) return reply.code(303).header('location', outcome.location).send();
    return reply
      .code(outcome.status)
      .headers(pageHeaders(outcome.formTargets, { script: outcome.script === true }))
      .send(outcome.page);
  };

  // A request that fails validation (a parameter sent twice, one too long) is a page, never JSON.
  app.setErrorHandler((error, _request, reply) => {
    if ((error as { validation?: unknown }).validation === undefined) throw error;
    return reply
      .code(400)
      .headers(pageHeaders())
      .send(
        authorizePages.cannotContinue('The request is malformed: a parameter is sent twice or is too long.'),
      );
  });

  return { names, cookieOptions, browserOf, signedIn, answer };
}

export type PageHttp = Awaited<ReturnType<typeof pageHttp>>;
