import formbody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, preHandlerAsyncHookHandler } from 'fastify';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../accounts/password-policy.ts';
import { Accepted } from '../accounts/schemas.ts';
import { requestFacts } from '../audit/events.ts';
import { principalOf, type RequireAuth } from '../authz/principal.ts';
import { PAGE_FORM_LIMIT } from '../html/forms.ts';
import { htmlResponse, PAGE_HEADERS } from '../html/page.ts';
import { UnprocessableError } from '../http/errors.ts';
import { Type } from '../http/json-schema.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { problemResponses } from '../http/problem.ts';
import { ref } from '../http/schema-ref.ts';
import { pages } from './pages.ts';
import { InvalidLinkError, PAGES, type RecoveryService } from './service.ts';

const Token = Type.String({
  minLength: 1,
  maxLength: 200,
  description: 'the token from the link in the message',
  examples: ['q2Vh0Jz0m4a5pXJ5fE0yGmQ9kq7bq2uKQ2m6wP1v6sU'],
});
const NewPassword = Type.String({
  minLength: PASSWORD_MIN_LENGTH,
  maxLength: PASSWORD_MAX_LENGTH,
  description: 'signup’s rules: 8 to 1024 characters, not the username or email, not a common password',
  examples: ['correct horse battery staple'],
});

const ConfirmBody = Type.Object({ token: Token }, { additionalProperties: false });
const ResetRequestBody = Type.Object(
  { email: Type.String({ format: 'email', maxLength: 254, examples: ['ada@example.com'] }) },
  { additionalProperties: false },
);
const ResetConfirmBody = Type.Object(
  { token: Token, new_password: NewPassword },
  { additionalProperties: false },
);
const PageQuery = Type.Object({ token: Type.Optional(Type.String({ maxLength: 200 })) });
const ConfirmForm = Type.Object(
  { token: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: true },
);
const ResetForm = Type.Object(
  {
    token: Type.Optional(Type.String({ maxLength: 200 })),
    new_password: Type.Optional(Type.String({ maxLength: 4096 })),
    new_password_again: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: true },
);
const html = htmlResponse;

export const recoveryRoutes: FastifyPluginAsyncTypebox<{
  recovery: RecoveryService;
  requireAuth: RequireAuth;
  /** RATE_LIMIT_MAIL × 4 requests per address per hour. */
  mailLimit: preHandlerAsyncHookHandler;
}> = async (app, { recovery, requireAuth, mailLimit }) => {
  const accepted = ref(Accepted, 'Accepted: a message follows where there is someone to send it to');

  app.post(
    '/email-verifications',
    {
      onRequest: requireAuth('profile'),
      preHandler: mailLimit,
      schema: {
        tags: ['accounts'],
        summary: 'Send a fresh verification link to your address',
        description:
          'The newest link is the only one that works. Nothing is sent when the address is already verified, or ' +
          'beyond RATE_LIMIT_MAIL messages to it per hour; the answer is 202 all the same.',
        security: [{ [SECURITY_SCHEME]: ['profile'] }],
        response: { 202: accepted, ...problemResponses(401, 403, 429) },
      },
    },
    async (request, reply) => {
      await recovery.requestVerification(principalOf(request).userId, requestFacts(request));
      return reply.code(202).send({ status: 'accepted' as const });
    },
  );

  app.post(
    '/email-verifications/confirm',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Confirm your address with the token from the link',
        description:
          'The token from a verification link, once: the address it was sent to becomes verified. An invalid, expired or used token is 400, and changes nothing.',
        body: ConfirmBody,
        response: {
          204: Type.Null({ description: 'The address is verified' }),
          ...problemResponses(400, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      await recovery.confirmVerification(request.body.token, requestFacts(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/password-resets',
    {
      preHandler: mailLimit,
      schema: {
        tags: ['accounts'],
        summary: 'Ask for a password reset link',
        description:
          'Answers 202 with the same body, at once, whether or not an account has this address (no enumeration); ' +
          'when one does, a reset link goes to it (at most RATE_LIMIT_MAIL per hour).',
        body: ResetRequestBody,
        response: { 202: accepted, ...problemResponses(400, 413, 415, 422, 429) },
      },
    },
    async (request, reply) => {
      recovery.requestPasswordReset(request.body.email, requestFacts(request));
      return reply.code(202).send({ status: 'accepted' as const });
    },
  );

  app.post(
    '/password-resets/confirm',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Set a new password with the token from the link',
        description: 'Every session of the account ends, and a notice goes to its address.',
        body: ResetConfirmBody,
        response: {
          204: Type.Null({ description: 'The password is set; every session ended' }),
          ...problemResponses(400, 413, 415, 422, 503),
        },
      },
    },
    async (request, reply) => {
      await recovery.confirmPasswordReset(
        request.body.token,
        request.body.new_password,
        requestFacts(request),
      );
      return reply.code(204).send(null);
    },
  );

  // The pages the links open: HTML for a person, never a JSON error.
  await app.register(pageRoutes, { recovery });
};

/** Its own scope: form bodies, and the pages' own headers. */
const pageRoutes: FastifyPluginAsyncTypebox<{ recovery: RecoveryService }> = async (
  pagesScope,
  { recovery },
) => {
  await pagesScope.register(formbody, { bodyLimit: PAGE_FORM_LIMIT });
  // A page goes out with the pages' own headers; an error (a 503 while the database is down) stays
  // the problem document it is, with the API's headers.
  const page = (reply: FastifyReply, status: number, html: string) =>
    reply.code(status).headers(PAGE_HEADERS).send(html);

  pagesScope.get(
    PAGES.verifyEmail,
    {
      schema: {
        tags: ['pages'],
        summary: 'The page a verification link opens: a button that confirms the address',
        description:
          'HTML for a person who clicked the link in a message. Opening it changes nothing (mail scanners and prefetchers open links): the button posts the token, which confirms. No script, a strict Content-Security-Policy, never cached, no referrer.',
        querystring: PageQuery,
        response: { 200: html('The button'), 400: html('The link is invalid, expired or used') },
      },
    },
    async (request, reply) => {
      const token = request.query.token ?? '';
      if (!(await recovery.linkWorks(token, 'email_verification')))
        return page(reply, 400, pages.invalidLink());
      return page(reply, 200, pages.confirmEmail(token));
    },
  );

  pagesScope.post(
    PAGES.verifyEmail,
    {
      schema: {
        tags: ['pages'],
        summary:
          'Where the verification page’s button posts (form-encoded); the same as POST /email-verifications/confirm',
        description:
          'Answers a page: the address is confirmed, or the link is invalid, expired or used (400).',
        consumes: ['application/x-www-form-urlencoded'],
        body: ConfirmForm,
        response: { 200: html('Confirmed'), 400: html('The link is invalid, expired or used') },
      },
    },
    async (request, reply) => {
      try {
        const user = await recovery.confirmVerification(request.body?.token ?? '', requestFacts(request));
        return page(reply, 200, pages.verified(user.email));
      } catch (error) {
        if (error instanceof InvalidLinkError) return page(reply, 400, pages.invalidLink());
        throw error;
      }
    },
  );

  pagesScope.get(
    PAGES.resetPassword,
    {
      schema: {
        tags: ['pages'],
        summary: 'The page a reset link opens: a form for the new password',
        description:
          'HTML for a person who clicked the link in a message. Opening it spends nothing: the token is only used when the form is sent.',
        querystring: PageQuery,
        response: { 200: html('The form'), 400: html('The link is invalid, expired or used') },
      },
    },
    async (request, reply) => {
      const token = request.query.token ?? '';
      if (!(await recovery.linkWorks(token, 'password_reset'))) return page(reply, 400, pages.invalidLink());
      return page(reply, 200, pages.resetForm(token));
    },
  );

  pagesScope.post(
    PAGES.resetPassword,
    {
      schema: {
        tags: ['pages'],
        summary: 'Where the reset form posts (form-encoded); the same as POST /password-resets/confirm',
        description:
          'Answers a page: done, the form again with what is wrong (422), or the link is invalid, expired or used (400).',
        consumes: ['application/x-www-form-urlencoded'],
        body: ResetForm,
        response: {
          200: html('The password is set'),
          400: html('The link is invalid, expired or used'),
          422: html('The form again, saying what is wrong with the password'),
        },
      },
    },
    async (request, reply) => {
      const { token = '', new_password = '', new_password_again } = request.body ?? {};
      if (new_password_again !== undefined && new_password_again !== new_password) {
        return page(reply, 422, pages.resetForm(token, 'The two passwords differ.'));
      }
      try {
        await recovery.confirmPasswordReset(token, new_password, requestFacts(request));
        return page(reply, 200, pages.passwordReset());
      } catch (error) {
        if (error instanceof InvalidLinkError) return page(reply, 400, pages.invalidLink());
        if (error instanceof UnprocessableError) {
          return page(reply, 422, pages.resetForm(token, `The new password ${error.errors[0]?.message}.`));
        }
        throw error;
      }
    },
  );
};
