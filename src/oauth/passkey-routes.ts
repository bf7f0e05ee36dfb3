import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { preHandlerAsyncHookHandler } from 'fastify';
import { requestFacts } from '../audit/events.ts';
import { htmlResponse, PAGE_SCRIPT } from '../html/page.ts';
import { Type } from '../http/json-schema.ts';
import { problemResponses } from '../http/problem.ts';
import type { Authorization } from './authorize.ts';
import { FORM_REFUSALS, type PageHttp, parametersOf, REQUEST_FIELDS, Text } from './page-http.ts';

const PasskeyForm = Type.Object(
  { ...REQUEST_FIELDS, response: Text(16_000, 'the WebAuthn response, JSON'), csrf: Text(200) },
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

/** The login pages' passkey button: the page script, its options request, the signed answer. */
export function registerPasskeyPageRoutes(
  app: Parameters<FastifyPluginAsyncTypebox>[0],
  http: PageHttp,
  authorization: Authorization,
  passkeyLimit: preHandlerAsyncHookHandler,
): void {
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
      const browser = http.browserOf(request, reply, false);
      const options = browser && (await authorization.passkeyOptions(browser, request.body.csrf));
      if (!options || options === 'forbidden') return http.answer(reply, 'forbidden');
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
      const browser = http.browserOf(request, reply, false);
      if (!browser) return http.answer(reply, 'forbidden');
      const body = (request.body ?? {}) as Record<string, string | undefined>;
      const result = await authorization.signInWithPasskey(
        { ...parametersOf(body), csrf: body.csrf, response: body.response },
        browser,
        { facts: requestFacts(request), log: request.log },
      );
      if (result === 'forbidden') return http.answer(reply, result);
      if (result.endPending) reply.clearCookie(http.names.pending, http.cookieOptions);
      http.signedIn(reply, result);
      return http.answer(reply, result.outcome);
    },
  );
}
