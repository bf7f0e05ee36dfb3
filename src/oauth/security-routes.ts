import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { requestFacts } from '../audit/events.ts';
import { htmlResponse } from '../html/page.ts';
import { Type } from '../http/json-schema.ts';
import { problemResponses } from '../http/problem.ts';
import { FORM_REFUSALS, type PageHttp, Text } from './page-http.ts';
import type { Browser, Outcome } from './page-kit.ts';
import type { SecurityPage } from './security.ts';

/** /account/security and its forms, in the pages' plugin (its cookies, Origin check and answers). */
export function registerSecurityRoutes(
  app: Parameters<FastifyPluginAsyncTypebox>[0],
  http: PageHttp,
  security: SecurityPage,
  passkeyLimit: preHandlerAsyncHookHandler,
): void {
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
        const browser = http.browserOf(request, reply, false);
        if (!browser) return http.answer(reply, 'forbidden');
        return http.answer(
          reply,
          await handle(browser, (request.body ?? {}) as Record<string, string | undefined>, request),
        );
      },
    );

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
      http.answer(
        reply,
        await security.page(
          http.browserOf(request, reply, true)!,
          (request.query as { failed?: string }).failed,
        ),
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
      const browser = http.browserOf(request, reply, false);
      const options = browser && (await security.passkeyOptions(browser, request.body.csrf));
      if (!options || options === 'forbidden') return http.answer(reply, 'forbidden');
      return reply.header('cache-control', 'no-store').send(options);
    },
  );
}
