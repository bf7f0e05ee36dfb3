import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { requestFacts } from '../audit/events.ts';
import { type AccountSnapshot, principalOf, type RequireAuth, type StepUp } from '../authz/principal.ts';
import { Type } from '../http/json-schema.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { problemResponses } from '../http/problem.ts';
import { ref } from '../http/schema-ref.ts';
import {
  Accepted,
  ChangePasswordBody,
  CreateUserBody,
  DeleteMeBody,
  UpdateMeBody,
  UserPublic,
} from './schemas.ts';
import type { AccountsService } from './service.ts';

/** PATCH /users/me that changes the address: it needs step-up, and counts in the mail limit. */
export const changesEmail = (request: FastifyRequest) =>
  (request.body as { email?: unknown } | undefined)?.email !== undefined;

/** The one place a user row becomes an answer: the hash is never copied. */
export function toUserPublic(user: AccountSnapshot) {
  // Field by field (an allow-list): a column added to users never reaches an answer by itself.
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    email_verified: user.email_verified,
    pending_email: user.pending_email,
    full_name: user.full_name,
    bio: user.bio,
    image: user.image,
    role: user.role,
    disabled: user.disabled,
    mfa: { totp: user.mfa_totp, passkeys: Number(user.mfa_passkeys) },
    created_at: user.created_at.toISOString(),
    updated_at: user.updated_at.toISOString(),
  };
}

export const accountsRoutes: FastifyPluginAsyncTypebox<{
  accounts: AccountsService;
  requireAuth: RequireAuth;
  /** Changing the email or password and deleting the account need a recent two-factor sign-in (with a factor). */
  stepUp: StepUp;
  /** RATE_LIMIT_SIGNUP per address. */
  signupLimit: preHandlerAsyncHookHandler;
  /** The mail limit, counting only PATCH /users/me requests that change the email address. */
  emailChangeLimit: preHandlerAsyncHookHandler;
}> = async (app, { accounts, requireAuth, stepUp, signupLimit, emailChangeLimit }) => {
  const profile = [{ [SECURITY_SCHEME]: ['profile'] }];
  const _User = ref(UserPublic, 'The user');

  app.post(
    '/users',
    {
      preHandler: signupLimit,
      schema: {
        tags: ['accounts'],
        summary: 'Sign up',
        description:
          'Creates an account with the user role and sends a verification message to its address. Passwords are ' +
          'stored as Argon2id hashes. With EMAIL_VERIFICATION=required the answer is 202 whether or not the email ' +
          'is taken (no enumeration: the owner of a taken address is told of the attempt by mail), and the new ' +
          'account’s tokens carry only `profile` until the address is confirmed.',
        body: CreateUserBody,
        response: {
          201: ref(UserPublic, 'Created; Location names the new user'),
          202: ref(Accepted, 'EMAIL_VERIFICATION=required: accepted; the confirmation link is in the mail'),
          ...problemResponses(400, 409, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const outcome = await accounts.register(request.body, requestFacts(request));
      if (!('created' in outcome)) return reply.code(202).send({ status: 'accepted' as const });
      const user = outcome.created;
      return reply.code(201).header('location', `/users/${user.id}`).send(toUserPublic(user));
    },
  );

  app.get(
    '/users/me',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Your account',
        description:
          'Your profile: username, email (and whether it is verified), full name, role and whether the account is disabled. Needs the profile scope.',
        security: profile,
        response: { 200: ref(UserPublic, 'Your account'), ...problemResponses(401, 403) },
      },
    },
    // From the session cache's copy when the guard has one: no query for the common request.
    async (request) => {
      const principal = principalOf(request);
      return toUserPublic(principal.account ?? (await accounts.getUser(principal.userId)));
    },
  );

  app.patch(
    '/users/me',
    {
      onRequest: requireAuth('profile'),
      preHandler: [stepUp.when(changesEmail), emailChangeLimit],
      schema: {
        tags: ['accounts'],
        summary: 'Change your profile (username, name, bio, image) or email address',
        description:
          'A new `username` follows signup’s rules (409 when taken, in any case); tokens issued before keep working (their `username` claim is informational). `bio` is up to 1000 characters, `image` an absolute https URL or null. ' +
          'A new `email` needs `current_password` (ASVS 5.0 V7.5.1); it starts unverified and gets a verification ' +
          'message, and the old address a notice naming the new one (partly masked). Requests that change the ' +
          'email count in the mail limit of the client address (RATE_LIMIT_MAIL × 4 an hour), and every message ' +
          'in the account’s and the recipient’s (RATE_LIMIT_MAIL an hour each; beyond them nothing is sent).',
        security: profile,
        body: UpdateMeBody,
        response: {
          200: ref(UserPublic, 'Your account, changed'),
          ...problemResponses(400, 401, 403, 409, 413, 415, 422, 429),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return toUserPublic(
        await accounts.updateProfile(principal.userId, request.body, {
          sessionId: principal.sessionId,
          facts: requestFacts(request),
        }),
      );
    },
  );

  app.delete(
    '/users/me',
    {
      onRequest: [requireAuth('profile'), stepUp.required],
      schema: {
        tags: ['accounts'],
        summary: 'Delete your account, with your posts and sessions',
        description:
          'Needs your password (limited per session: 429 after too many wrong ones). The last enabled admin ' +
          'cannot delete their account (409). A notice is sent to your address.',
        security: profile,
        body: DeleteMeBody,
        response: {
          204: Type.Null({ description: 'Deleted' }),
          ...problemResponses(400, 401, 403, 409, 413, 415, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await accounts.deleteOwnAccount({
        userId: principal.userId,
        sessionId: principal.sessionId,
        password: request.body.password,
        facts: requestFacts(request),
      });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/users/me/password',
    {
      onRequest: [requireAuth('profile'), stepUp.required],
      schema: {
        tags: ['accounts'],
        summary: 'Change your password; every other session ends',
        description:
          'Needs `current_password` (limited per session: 429 after too many wrong ones); the new one must meet the signup rules. Every other session ends at once, this one stays, and a notice goes to your address.',
        security: profile,
        body: ChangePasswordBody,
        response: {
          204: Type.Null({ description: 'Changed; your other sessions are revoked, this one goes on' }),
          ...problemResponses(400, 401, 403, 413, 415, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await accounts.changePassword({
        userId: principal.userId,
        sessionId: principal.sessionId,
        currentPassword: request.body.current_password,
        newPassword: request.body.new_password,
        facts: requestFacts(request),
      });
      return reply.code(204).send(null);
    },
  );
};
