import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { requestFacts } from '../audit/events.ts';
import { htmlResponse, pageHeaders } from '../html/page.ts';
import { canonicalAddress } from '../http/client-address.ts';
import { Type } from '../http/json-schema.ts';
import type { Authorization } from './authorize.ts';
import { FORM_REFUSALS, pageHttp, parametersOf, REQUEST_FIELDS, Text } from './page-http.ts';
import { authorizePages } from './pages.ts';
import { registerPasskeyPageRoutes } from './passkey-routes.ts';
import { registerSecurityRoutes } from './security-routes.ts';

const AuthorizeQuery = Type.Object(REQUEST_FIELDS, { additionalProperties: true });
const LoginForm = Type.Object(
  { ...REQUEST_FIELDS, username: Text(254), password: Text(4096), csrf: Text(200) },
  { additionalProperties: true },
);
const ConsentForm = Type.Object(
  { ...REQUEST_FIELDS, decision: Text(20, '`approve` or `deny`'), csrf: Text(200) },
  { additionalProperties: true },
);
const LogoutForm = Type.Object({ csrf: Text(200) }, { additionalProperties: true });
const SecondFactorForm = Type.Object(
  { ...REQUEST_FIELDS, code: Text(64), csrf: Text(200) },
  { additionalProperties: true },
);
/** A pending sign-in waits this long for its second step (pending-sign-ins.ts). */
const PENDING_COOKIE_SECONDS = 300;

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
  const http = await pageHttp(app, { secure, loginSessionTtlSeconds, issuer });
  const { names, cookieOptions, browserOf, signedIn, answer } = http;

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
          { ...REQUEST_FIELDS, failed: Text(20), retry_after: Text(10) },
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
        querystring: Type.Object({ ...REQUEST_FIELDS, failed: Text(20) }, { additionalProperties: true }),
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

  registerPasskeyPageRoutes(app, http, authorization, passkeyLimit);
  registerSecurityRoutes(app, http, authorization.security, passkeyLimit);

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
