import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { Type } from 'typebox';
import { requestFacts } from '../audit/events.ts';
import { PAGE_FORM_LIMIT } from '../html/forms.ts';
import { htmlResponse, PAGE_SCRIPT, pageHeaders } from '../html/page.ts';
import { canonicalAddress } from '../http/client-address.ts';
import { problemResponses } from '../http/problem.ts';
import { DEVICE_TRUST_DAYS } from '../login/devices.ts';
import type { Authorization, Browser, Outcome } from './authorize.ts';
import { AUTHORIZE_PARAMETERS, type AuthorizeParameters } from './authorize-request.ts';
import { authorizePages } from './pages.ts';

const Text = (maxLength: number, description?: string) =>
  Type.Optional(Type.String({ maxLength, ...(description !== undefined && { description }) }));

/** The authorization request's parameters (RFC 6749 §4.1.1, RFC 7636 §4.3); unknown ones are ignored. */
const Parameters = {
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
const AuthorizeQuery = Type.Object(Parameters, { additionalProperties: true });
const LoginForm = Type.Object(
  { ...Parameters, username: Text(254), password: Text(4096), csrf: Text(200) },
  { additionalProperties: true },
);
const ConsentForm = Type.Object(
  { ...Parameters, decision: Text(20, '`approve` or `deny`'), csrf: Text(200) },
  { additionalProperties: true },
);
const LogoutForm = Type.Object({ csrf: Text(200) }, { additionalProperties: true });
const PasskeyForm = Type.Object(
  { ...Parameters, response: Text(16_000, 'the WebAuthn response, JSON'), csrf: Text(200) },
  { additionalProperties: true },
);
/** The page script, served whole: @simplewebauthn/browser's bundle, then inkgate's own few lines. */
const PAGE_SCRIPT_TEXT = [
  readFileSync(
    join(
      dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')),
      '../dist/bundle/index.umd.min.js',
    ),
    'utf8',
  ),
  readFileSync(new URL('./assets/passkeys.js', import.meta.url), 'utf8'),
].join('\n');
const SecondFactorForm = Type.Object(
  { ...Parameters, code: Text(64), csrf: Text(200) },
  { additionalProperties: true },
);
/** A pending sign-in waits this long for its second step (pending-sign-ins.ts). */
const PENDING_COOKIE_SECONDS = 300;

/** What a page form's POST answers when it cannot be taken: the same for every form. */
const FORM_REFUSALS = {
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

/** Only the authorization request's own fields (a form also carries others; unknown ones go). */
const parametersOf = (source: Record<string, unknown> | undefined): AuthorizeParameters =>
  Object.fromEntries(
    AUTHORIZE_PARAMETERS.filter((name) => typeof source?.[name] === 'string').map((name) => [
      name,
      source?.[name],
    ]),
  );

/**
 * /authorize and inkgate's own sign-in, consent and sign-out pages. Every POST answers 303 (or 403
 * when it does not carry the form token of this browser's page); the pages run no script but the
 * one same-origin page script (the passkey button's, on the login pages), are never framed, and may
 * post only here and on to the request's validated redirect origin.
 */
export const authorizeRoutes: FastifyPluginAsyncTypebox<{
  authorization: Authorization;
  /** Cookies are `__Host-` and Secure when the issuer is https. */
  secure: boolean;
  loginSessionTtlSeconds: number;
  /** ISSUER: the pages' own origin, the only one their forms may post from. */
  issuer: string;
  /** Limits the passkey options requests (each stores a challenge) per address. */
  passkeyLimit: preHandlerAsyncHookHandler;
}> = async (app, { authorization, secure, loginSessionTtlSeconds, issuer, passkeyLimit }) => {
  const issuerOrigin = new URL(issuer).origin;
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

  const authorizeSchema = (summary: string, source: 'querystring' | 'body') => ({
    tags: ['auth'],
    summary,
    description:
      'RFC 6749 §4.1 with PKCE (S256, required of every client) and RFC 9207 `iss`. An unknown client or a redirect URI that was not registered is a 400 page; other errors redirect back with `error`, `error_description`, `state` and `iss`. A browser not signed in (or `prompt=login`, or a sign-in older than `max_age`) gets the login page; a third-party client the consent page; then a 303 to the redirect URI with `code`, `state` and `iss`.',
    [source]: AuthorizeQuery,
    ...(source === 'body' && { consumes: ['application/x-www-form-urlencoded'] }),
    response: {
      200: htmlResponse('The login or consent page'),
      303: { description: 'Back to the client (code or error), or on to the next page' },
      400: htmlResponse('The request cannot be trusted to redirect: an unknown client or redirect URI'),
    },
  });
  const authorize = (source: 'query' | 'body') => async (request: FastifyRequest, reply: FastifyReply) =>
    answer(
      reply,
      await authorization.authorize(
        parametersOf(request[source] as Record<string, unknown>),
        browserOf(request, reply, true)!,
      ),
    );
  app.get(
    '/authorize',
    { schema: authorizeSchema('Authorization endpoint (authorization code + PKCE)', 'querystring') },
    authorize('query'),
  );
  app.post(
    '/authorize',
    { schema: authorizeSchema('Authorization endpoint, form-encoded', 'body') },
    authorize('body'),
  );

  app.get(
    '/account/login',
    {
      schema: {
        tags: ['pages'],
        summary: 'The sign-in page (or who is signed in in this browser)',
        description:
          'With an authorization request’s parameters, its sign-in form; `failed` (`credentials`, `throttled`, `missing`) says why the last try did not sign in.',
        querystring: Type.Object(
          { ...Parameters, failed: Text(20), retry_after: Text(10) },
          { additionalProperties: true },
        ),
        response: {
          200: htmlResponse('The sign-in form, or the signed-in page with a sign-out button'),
          303: { description: 'An authorization request that goes back to its client with an error' },
          400: htmlResponse('The request cannot be trusted to redirect'),
        },
      },
    },
    async (request, reply) => {
      const query = request.query as Record<string, string | undefined>;
      return answer(
        reply,
        await authorization.account(browserOf(request, reply, true)!, {
          ...parametersOf(query),
          failed: query.failed,
          retry_after: query.retry_after,
        }),
      );
    },
  );

  app.post(
    '/account/login',
    {
      schema: {
        tags: ['pages'],
        summary: 'Sign in (the login page’s form)',
        description:
          'The same limits as /token (one count, whichever door; no lockout of the owner). On success the browser is signed in (a session of kind `browser`, `LOGIN_SESSION_TTL`) and goes on with its authorization request (303).',
        consumes: ['application/x-www-form-urlencoded'],
        body: LoginForm,
        response: {
          303: {
            description:
              'Signed in: on to /authorize (or the account page); or back to the login page, which says why not',
          },
          ...FORM_REFUSALS,
        },
      },
    },
    async (request, reply) => {
      const browser = browserOf(request, reply, false);
      if (!browser) return answer(reply, 'forbidden');
      const body = (request.body ?? {}) as Record<string, string | undefined>;
      const result = await authorization.signIn(
        { ...parametersOf(body), csrf: body.csrf, username: body.username, password: body.password },
        browser,
        { address: canonicalAddress(request.ip), facts: requestFacts(request), log: request.log },
      );
      if (result === 'forbidden') return answer(reply, result);
      if (result.pending !== undefined) {
        reply.setCookie(names.pending, result.pending, { ...cookieOptions, maxAge: PENDING_COOKIE_SECONDS });
      }
      signedIn(reply, result);
      return answer(reply, result.outcome);
    },
  );

  app.get(
    '/account/login/second-factor',
    {
      schema: {
        tags: ['pages'],
        summary: 'The second step of signing in (after a right password)',
        description:
          'For an account with a second factor: a form for a TOTP or recovery code. Without a pending sign-in in this browser, back to the login page.',
        querystring: Type.Object({ ...Parameters, failed: Text(20) }, { additionalProperties: true }),
        response: {
          200: htmlResponse('The code form'),
          303: { description: 'No pending sign-in: to the login page' },
          400: htmlResponse('The request cannot be trusted to redirect'),
        },
      },
    },
    async (request, reply) => {
      const query = request.query as Record<string, string | undefined>;
      return answer(
        reply,
        await authorization.secondStepPage(browserOf(request, reply, true)!, {
          ...parametersOf(query),
          failed: query.failed,
        }),
      );
    },
  );

  app.post(
    '/account/login/second-factor',
    {
      schema: {
        tags: ['pages'],
        summary: 'Give the second factor (the code form)',
        description:
          'A TOTP code (accepted once) or a recovery code (spent). Wrong codes count in the login limits; five end the attempt and the password is asked again. On success the browser is signed in with `amr` pwd, otp, mfa.',
        consumes: ['application/x-www-form-urlencoded'],
        body: SecondFactorForm,
        response: {
          303: { description: 'Signed in: onwards; or back to the form or the login page, which say why' },
          ...FORM_REFUSALS,
        },
      },
    },
    async (request, reply) => {
      const browser = browserOf(request, reply, false);
      if (!browser) return answer(reply, 'forbidden');
      const body = (request.body ?? {}) as Record<string, string | undefined>;
      const result = await authorization.secondStep(
        { ...parametersOf(body), csrf: body.csrf, code: body.code },
        browser,
        { address: canonicalAddress(request.ip), facts: requestFacts(request), log: request.log },
      );
      if (result === 'forbidden') return answer(reply, result);
      if (result.endPending) reply.clearCookie(names.pending, cookieOptions);
      signedIn(reply, result);
      return answer(reply, result.outcome);
    },
  );

  app.get(
    PAGE_SCRIPT,
    {
      schema: {
        tags: ['pages'],
        summary: 'The page script: passkey ceremonies on the login pages',
        description:
          'The one script inkgate’s pages load (same origin): @simplewebauthn/browser and the few lines that run a ceremony from a page’s passkey button.',
        response: {
          200: { description: 'JavaScript', content: { 'text/javascript': { schema: { type: 'string' } } } },
        },
      },
    },
    async (_request, reply) =>
      reply
        .header('content-type', 'text/javascript; charset=utf-8')
        .header('cache-control', 'no-cache')
        .send(PAGE_SCRIPT_TEXT),
  );

  app.post(
    '/account/passkey/options',
    {
      preHandler: passkeyLimit,
      schema: {
        tags: ['pages'],
        summary: 'WebAuthn request options for the login page’s passkey button',
        description:
          'Called by the page script with the page’s form token: options for any discoverable passkey, or the pending sign-in’s user’s passkeys (the second step). User verification required; the challenge is good once, for five minutes.',
        body: Type.Object({ csrf: Text(200) }, { additionalProperties: false }),
        response: {
          200: Type.Object(
            {},
            { additionalProperties: true, description: 'PublicKeyCredentialRequestOptionsJSON' },
          ),
          403: htmlResponse('Not this browser’s page: nothing made'),
          ...problemResponses(400, 413, 415, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const browser = browserOf(request, reply, false);
      const options = browser && (await authorization.passkeyOptions(browser, request.body.csrf));
      if (!options || options === 'forbidden') return answer(reply, 'forbidden');
      return reply.header('cache-control', 'no-store').send(options);
    },
  );

  app.post(
    '/account/passkey',
    {
      schema: {
        tags: ['pages'],
        summary: 'Sign in with a passkey (the page script posts its response)',
        description:
          'A passkey with user verification: a complete sign-in (amr hwk user), or the second step of a pending one (amr pwd hwk user mfa). Then on with the authorization request (303); a passkey that does not verify goes back to the login page.',
        consumes: ['application/x-www-form-urlencoded'],
        body: PasskeyForm,
        response: {
          303: { description: 'Signed in: onwards; or back to the login page, which says why not' },
          ...FORM_REFUSALS,
        },
      },
    },
    async (request, reply) => {
      const browser = browserOf(request, reply, false);
      if (!browser) return answer(reply, 'forbidden');
      const body = (request.body ?? {}) as Record<string, string | undefined>;
      const result = await authorization.signInWithPasskey(
        { ...parametersOf(body), csrf: body.csrf, response: body.response },
        browser,
        { facts: requestFacts(request), log: request.log },
      );
      if (result === 'forbidden') return answer(reply, result);
      if (result.endPending) reply.clearCookie(names.pending, cookieOptions);
      signedIn(reply, result);
      return answer(reply, result.outcome);
    },
  );

  const SecurityForm = Type.Object({ csrf: Text(200) }, { additionalProperties: true });
  const securityPost = (
    url: string,
    summary: string,
    handle: (
      browser: Browser,
      body: Record<string, string | undefined>,
      request: FastifyRequest,
    ) => Promise<Outcome | 'forbidden'>,
  ) =>
    app.post(
      url,
      {
        schema: {
          tags: ['pages'],
          summary,
          description:
            'A form of /account/security, from this browser’s page; with a second factor already set up, only within STEP_UP_MAX_AGE of a two-factor sign-in. 303 back to the page (or to the login page), or the new recovery codes, shown this once.',
          consumes: ['application/x-www-form-urlencoded'],
          body: SecurityForm,
          response: {
            200: htmlResponse('New recovery codes, shown this once'),
            303: { description: 'Back to the security page, which says what happened' },
            ...FORM_REFUSALS,
          },
        },
      },
      async (request, reply) => {
        const browser = browserOf(request, reply, false);
        if (!browser) return answer(reply, 'forbidden');
        return answer(
          reply,
          await handle(browser, (request.body ?? {}) as Record<string, string | undefined>, request),
        );
      },
    );
  const { security } = authorization;

  app.get(
    '/account/security',
    {
      schema: {
        tags: ['pages'],
        summary: 'Account security: authenticator app, passkeys, recovery codes',
        description:
          'For a browser signed in at the login page. An account with a second factor changes them only within STEP_UP_MAX_AGE of a two-factor sign-in. Not signed in: to the login page.',
        querystring: Type.Object({ failed: Text(20) }, { additionalProperties: true }),
        response: {
          200: htmlResponse('The security page'),
          303: { description: 'Not signed in: to the login page' },
        },
      },
    },
    async (request, reply) =>
      answer(
        reply,
        await security.page(browserOf(request, reply, true)!, (request.query as { failed?: string }).failed),
      ),
  );
  securityPost('/account/security/totp', 'Start setting up an authenticator app', (browser, body) =>
    security.startTotp(browser, body.csrf),
  );
  securityPost(
    '/account/security/totp/confirm',
    'Turn the authenticator app on with its code',
    (browser, body, request) =>
      security.confirmTotp(browser, body.csrf, body.code ?? '', requestFacts(request)),
  );
  securityPost('/account/security/totp/remove', 'Remove the authenticator app', (browser, body, request) =>
    security.removeTotp(browser, body.csrf, requestFacts(request)),
  );
  securityPost('/account/security/recovery-codes', 'Make new recovery codes', (browser, body, request) =>
    security.renewRecoveryCodes(browser, body.csrf, requestFacts(request)),
  );
  securityPost(
    '/account/security/passkeys',
    'Add a passkey (the page script posts its response)',
    (browser, body, request) => security.addPasskey(browser, body, requestFacts(request)),
  );
  securityPost('/account/security/passkeys/remove', 'Remove a passkey', (browser, body, request) =>
    security.removePasskey(browser, body.csrf, body.id ?? '', requestFacts(request)),
  );
  app.post(
    '/account/security/passkeys/options',
    {
      preHandler: passkeyLimit,
      schema: {
        tags: ['pages'],
        summary: 'WebAuthn creation options for the security page’s passkey button',
        description: 'Called by the page script with the page’s token, for the signed-in browser’s user.',
        body: Type.Object({ csrf: Text(200) }, { additionalProperties: false }),
        response: {
          200: Type.Object(
            {},
            { additionalProperties: true, description: 'PublicKeyCredentialCreationOptionsJSON' },
          ),
          403: htmlResponse('Not this browser’s page, or not signed in: nothing made'),
          ...problemResponses(400, 409, 413, 415, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const browser = browserOf(request, reply, false);
      const options = browser && (await security.passkeyOptions(browser, request.body.csrf));
      if (!options || options === 'forbidden') return answer(reply, 'forbidden');
      return reply.header('cache-control', 'no-store').send(options);
    },
  );

  app.post(
    '/account/consent',
    {
      schema: {
        tags: ['pages'],
        summary: 'Allow or deny a client (the consent page’s form)',
        description:
          '`decision=approve` records the consent (`authorization_granted`) and goes back to the client with a code; anything else with `access_denied`.',
        consumes: ['application/x-www-form-urlencoded'],
        body: ConsentForm,
        response: {
          303: { description: 'Back to the client: a code (approve) or access_denied (deny)' },
          ...FORM_REFUSALS,
        },
      },
    },
    async (request, reply) => {
      const browser = browserOf(request, reply, false);
      if (!browser) return answer(reply, 'forbidden');
      const body = (request.body ?? {}) as Record<string, string | undefined>;
      return answer(
        reply,
        await authorization.decide(
          { ...parametersOf(body), csrf: body.csrf, decision: body.decision },
          browser,
          requestFacts(request),
        ),
      );
    },
  );

  app.get(
    '/account/logout',
    {
      schema: {
        tags: ['pages'],
        summary: 'The sign-out page',
        description: 'Who is signed in in this browser, with a button that signs it out; or that nobody is.',
        response: { 200: htmlResponse('Who is signed in, with a sign-out button; or that nobody is') },
      },
    },
    async (request, reply) => {
      const browser = browserOf(request, reply, true)!;
      if (browser.signin === undefined) {
        return reply.code(200).headers(pageHeaders()).send(authorizePages.signedOut());
      }
      return answer(reply, await authorization.account(browser));
    },
  );

  app.post(
    '/account/logout',
    {
      schema: {
        tags: ['pages'],
        summary: 'Sign this browser out (the sign-out page’s form)',
        description:
          'Ends this browser’s sign-in (its `browser` session); the client sessions made through it stay until revoked themselves.',
        consumes: ['application/x-www-form-urlencoded'],
        body: LogoutForm,
        response: {
          303: { description: 'Signed out' },
          ...FORM_REFUSALS,
        },
      },
    },
    async (request, reply) => {
      const browser = browserOf(request, reply, false);
      if (!browser) return answer(reply, 'forbidden');
      const outcome = await authorization.signOut(request.body ?? {}, browser, requestFacts(request));
      if (outcome !== 'forbidden') reply.clearCookie(names.signin, { path: '/' });
      return answer(reply, outcome);
    },
  );
};
