import type { FastifyBaseLogger } from 'fastify';
import type { UsersRepository } from '../accounts/repository.ts';
import type { AuditFacts } from '../audit/events.ts';
import { PASSKEY, PASSWORD_AND_CODE, PASSWORD_AND_PASSKEY, PASSWORD_ONLY } from '../authz/authentication.ts';
import { hasSecondFactor } from '../authz/mfa-policy.ts';
import { LoginRefusedError } from '../login/errors.ts';
import type { LoginService } from '../login/service.ts';
import type { Passkeys } from '../mfa/passkeys.ts';
import type { CodeMethod, Mfa } from '../mfa/service.ts';
import type { SessionsService } from '../sessions/service.ts';
import type { AuthorizeParameters } from './authorize-request.ts';
import { type Browser, formTarget, type Outcome, type PageKit } from './page-kit.ts';
import { authorizePages } from './pages.ts';
import type { PendingSignIns } from './pending-sign-ins.ts';

/**
 * The browser's own sign-in at inkgate: the login page's form (every login rule, then a session of
 * kind browser), the account page, and signing out.
 */
export function createSignIn(deps: {
  sessions: SessionsService;
  login: LoginService;
  users: Pick<UsersRepository, 'findById'>;
  mfa: Pick<Mfa, 'verifyCode'>;
  passkeys: Pick<Passkeys, 'signInOptions' | 'verifySignIn'>;
  pending: PendingSignIns;
  loginSessionTtlSeconds: number;
  kit: Pick<PageKit, 'formToken' | 'formValid' | 'checked' | 'loginPage' | 'passkeyTokens'>;
}) {
  const { sessions, pending } = deps;
  const { formToken, formValid, checked, loginPage, passkeyTokens } = deps.kit;

  /** Where a finished sign-in goes: back to /authorize with the same request, or the account page. */
  function onwards(parameters: AuthorizeParameters): Outcome {
    if (Object.keys(parameters).length === 0) return { location: '/account/login' };
    // A fresh sign-in answers prompt=login and max_age.
    const { prompt, ...rest } = parameters;
    const next = new URLSearchParams(
      Object.entries(prompt === 'login' ? rest : parameters) as Array<[string, string]>,
    );
    return { location: `/authorize?${next}` };
  }

  /** Back to the login page with the request, saying why (every POST answers 303, API.md). */
  function again(
    parameters: AuthorizeParameters,
    failed: 'missing' | 'credentials' | 'throttled' | 'second_factor' | 'expired' | 'passkey',
    retryAfter?: number,
  ): Outcome {
    const query = new URLSearchParams(Object.entries(parameters) as Array<[string, string]>);
    query.set('failed', failed);
    if (retryAfter !== undefined) query.set('retry_after', String(retryAfter));
    return { location: `/account/login?${query}` };
  }

  /** POST /account/login: the password under every login rule, then the browser's sign-in. */
  async function signIn(
    form: AuthorizeParameters & { csrf?: string; username?: string; password?: string },
    browser: Browser,
    context: { address: string; facts: AuditFacts; log: FastifyBaseLogger },
  ): Promise<
    { outcome: Outcome; signin?: string; device?: string | undefined; pending?: string } | 'forbidden'
  > {
    const { csrf, username, password, ...parameters } = form;
    if (!(await formValid('login', browser, parameters, csrf))) return 'forbidden';
    const hasRequest = Object.keys(parameters).length > 0;
    const request = hasRequest ? await checked(parameters) : undefined;
    if (request !== undefined && !('client' in request)) return { outcome: request };
    if (!username || !password) return { outcome: again(parameters, 'missing') };
    let verified: Awaited<ReturnType<LoginService['verifyCredentials']>>;
    try {
      verified = await deps.login.verifyCredentials({
        ...context,
        username,
        password,
        // The login page's own device cookie: the owner's browser keeps its bucket here too.
        deviceCookie: browser.device,
      });
    } catch (error) {
      if (!(error instanceof LoginRefusedError)) throw error;
      return {
        outcome:
          error.reason === 'bad_credentials'
            ? again(parameters, 'credentials')
            : again(parameters, 'throttled', error.retryAfterSeconds ?? 1),
      };
    }
    const { user } = verified;
    if (hasSecondFactor(user)) {
      // The password was right, so it counts as no failure; the address is remembered and a device
      // cookie given only once the second step is done too.
      await verified.abandoned();
      const secret = await pending.start({
        userId: user.id,
        passwordHash: user.password_hash,
        sessionsEpoch: Number(user.sessions_epoch),
        seenBefore: verified.seenBefore,
      });
      const query = new URLSearchParams(Object.entries(parameters) as Array<[string, string]>);
      return { outcome: { location: `/account/login/second-factor?${query}` }, pending: secret };
    }
    const started = await sessions.startBrowser({
      user,
      userAgent: context.facts.userAgent ?? '',
      ip: context.facts.ip ?? '',
      verified: { passwordHash: user.password_hash, sessionsEpoch: Number(user.sessions_epoch) },
      ttlSeconds: deps.loginSessionTtlSeconds,
      amr: PASSWORD_ONLY,
      details: { seen_before: verified.seenBefore },
    });
    if (!started) {
      await verified.abandoned();
      return { outcome: again(parameters, 'credentials') };
    }
    const { deviceCookie: device } = await verified.succeeded();
    return { outcome: onwards(parameters), signin: started.secret, device };
  }

  /** GET /account/login/second-factor: the code form of a pending sign-in (else back to the login page). */
  async function secondStepPage(
    browser: Browser & { pending: string | undefined },
    query: AuthorizeParameters & { failed?: string | undefined },
  ): Promise<Outcome> {
    const { failed, ...parameters } = query;
    const waiting = await pending.find(browser.pending);
    const user = waiting && (await deps.users.findById(waiting.user_id));
    if (!waiting || !user) return again(parameters, 'expired');
    const request = Object.keys(parameters).length > 0 ? await checked(parameters) : undefined;
    if (request !== undefined && !('client' in request)) return request;
    return {
      page: authorizePages.secondFactor({
        parameters: parameters as Record<string, string | undefined>,
        csrf: await formToken('second_factor', browser, parameters),
        passkey: await passkeyTokens(browser, parameters),
        username: user.username,
        problem:
          failed === 'code' ? 'That code is not right, or was used already. Try the next one.' : undefined,
      }),
      status: 200,
      formTargets: request ? [formTarget(request.redirectUri)] : [],
      kind: 'login',
      script: true,
    };
  }

  /**
   * POST /account/passkey/options (the page script's request, with the page's token): WebAuthn
   * request options — for the pending sign-in's user (the second step), or any discoverable passkey.
   */
  async function passkeyOptions(browser: Browser & { pending: string | undefined }, csrf: unknown) {
    if (!(await formValid('passkey_options', browser, {}, csrf))) return 'forbidden' as const;
    const waiting = await pending.find(browser.pending);
    return deps.passkeys.signInOptions(waiting?.user_id);
  }

  /**
   * POST /account/passkey: a passkey's signed challenge, with user verification. With a pending
   * sign-in it is that sign-in's second step (amr pwd hwk user mfa); without, a complete sign-in by
   * itself (amr hwk user). A passkey cannot be guessed, so a failure counts in no login limit; it is
   * an mfa_failed event.
   */
  async function signInWithPasskey(
    form: AuthorizeParameters & { csrf?: string; response?: string },
    browser: Browser & { pending: string | undefined },
    context: { facts: AuditFacts; log: FastifyBaseLogger },
  ): Promise<{ outcome: Outcome; signin?: string; endPending?: boolean } | 'forbidden'> {
    const { csrf, response, ...parameters } = form;
    if (!(await formValid('passkey', browser, parameters, csrf))) return 'forbidden';
    let answer: unknown;
    try {
      answer = JSON.parse(response ?? '');
    } catch {
      return { outcome: again(parameters, 'passkey') };
    }
    const waiting = await pending.find(browser.pending);
    const user = await deps.passkeys.verifySignIn(answer, context.facts, {
      userId: waiting?.user_id,
      log: context.log,
    });
    if (!user) return { outcome: again(parameters, 'passkey'), endPending: waiting !== undefined };
    if (waiting) {
      const same =
        user.password_hash === waiting.password_hash &&
        Number(user.sessions_epoch) === waiting.sessions_epoch;
      if (!same || !(await pending.finish(waiting.secret_hash)))
        return { outcome: again(parameters, 'expired'), endPending: true };
    }
    const started = await sessions.startBrowser({
      user,
      userAgent: context.facts.userAgent ?? '',
      ip: context.facts.ip ?? '',
      verified: waiting
        ? { passwordHash: waiting.password_hash, sessionsEpoch: waiting.sessions_epoch }
        : { passwordHash: user.password_hash, sessionsEpoch: Number(user.sessions_epoch) },
      ttlSeconds: deps.loginSessionTtlSeconds,
      amr: waiting ? PASSWORD_AND_PASSKEY : PASSKEY,
      details: waiting ? { seen_before: waiting.seen_before, second_factor: 'passkey' } : { passkey: true },
    });
    if (!started) return { outcome: again(parameters, 'expired'), endPending: true };
    return { outcome: onwards(parameters), signin: started.secret, endPending: waiting !== undefined };
  }

  /**
   * POST /account/login/second-factor: a TOTP or recovery code for the pending sign-in, under the
   * login throttle; five wrong codes end it (the password is asked again). Then the browser's sign-in,
   * with amr pwd, otp, mfa.
   */
  async function secondStep(
    form: AuthorizeParameters & { csrf?: string; code?: string },
    browser: Browser & { pending: string | undefined },
    context: { address: string; facts: AuditFacts; log: FastifyBaseLogger },
  ): Promise<
    { outcome: Outcome; signin?: string; device?: string | undefined; endPending?: boolean } | 'forbidden'
  > {
    const { csrf, code, ...parameters } = form;
    if (!(await formValid('second_factor', browser, parameters, csrf))) return 'forbidden';
    const waiting = await pending.find(browser.pending);
    const user = waiting && (await deps.users.findById(waiting.user_id));
    // The account as the password found it: not disabled since, the same password, sessions not ended.
    if (
      !waiting ||
      !user ||
      user.disabled ||
      user.password_hash !== waiting.password_hash ||
      Number(user.sessions_epoch) !== waiting.sessions_epoch
    ) {
      return { outcome: again(parameters, 'expired'), endPending: true };
    }
    const query = new URLSearchParams(Object.entries(parameters) as Array<[string, string]>);
    let method: CodeMethod | undefined;
    const step = await deps.login.verifySecondStep({
      user,
      address: context.address,
      facts: context.facts,
      deviceCookie: browser.device,
      log: context.log,
      check: async () => {
        method = code ? await deps.mfa.verifyCode(user, code, context.facts, context.log) : undefined;
        return method !== undefined;
      },
    });
    if (step.outcome === 'throttled') {
      return { outcome: again(parameters, 'throttled', step.retryAfterSeconds), endPending: true };
    }
    if (step.outcome === 'wrong') {
      if (await pending.failed(waiting.secret_hash))
        return { outcome: again(parameters, 'second_factor'), endPending: true };
      query.set('failed', 'code');
      return { outcome: { location: `/account/login/second-factor?${query}` } };
    }
    if (!(await pending.finish(waiting.secret_hash)))
      return { outcome: again(parameters, 'expired'), endPending: true };
    const started = await sessions.startBrowser({
      user,
      userAgent: context.facts.userAgent ?? '',
      ip: context.facts.ip ?? '',
      verified: { passwordHash: waiting.password_hash, sessionsEpoch: waiting.sessions_epoch },
      ttlSeconds: deps.loginSessionTtlSeconds,
      amr: PASSWORD_AND_CODE,
      details: { seen_before: waiting.seen_before, second_factor: method ?? 'totp' },
    });
    if (!started) return { outcome: again(parameters, 'expired'), endPending: true };
    const { deviceCookie: device } = await step.completed();
    return { outcome: onwards(parameters), signin: started.secret, device, endPending: true };
  }

  /**
   * GET /account/login: the form (for an authorization request, when it carries one; saying why the
   * last try failed), or who is signed in here with a sign-out button.
   */
  async function account(
    browser: Browser,
    query: AuthorizeParameters & { failed?: string | undefined; retry_after?: string | undefined } = {},
  ): Promise<Outcome> {
    const { failed, retry_after: retryAfter, ...parameters } = query;
    const problem =
      failed === 'credentials'
        ? 'Wrong username or password.'
        : failed === 'second_factor'
          ? 'Too many wrong codes: sign in again.'
          : failed === 'passkey'
            ? 'That passkey did not sign in (it is not registered here, or did not verify you).'
            : failed === 'expired'
              ? 'That sign-in has ended: sign in again.'
              : failed === 'throttled'
                ? `Too many attempts: try again in ${/^\d{1,6}$/.test(retryAfter ?? '') ? retryAfter : 'a few'} seconds.`
                : failed === 'missing'
                  ? 'Enter your username (or email) and password.'
                  : undefined;
    if (Object.keys(parameters).length > 0) {
      const request = await checked(parameters);
      if (!('client' in request)) return request;
      return loginPage(request, browser, problem);
    }
    const signedIn = await sessions.browserSession(browser.signin);
    if (!signedIn || problem !== undefined) return loginPage(undefined, browser, problem);
    return {
      page: authorizePages.signedIn({
        username: signedIn.username,
        csrf: await formToken('logout', browser, {}),
      }),
      status: 200,
      formTargets: [],
    };
  }
  /** POST /account/logout from this browser's page: its sign-in ends (its client sessions stay). */
  async function signOut(
    form: { csrf?: string },
    browser: Browser,
    facts: AuditFacts,
  ): Promise<Outcome | 'forbidden'> {
    if (!(await formValid('logout', browser, {}, form.csrf))) return 'forbidden';
    const signedIn = await sessions.browserSession(browser.signin);
    if (signedIn) await sessions.revoke(signedIn.sessionId, 'logged_out', facts);
    return { location: '/account/logout' };
  }

  return { signIn, secondStepPage, secondStep, passkeyOptions, signInWithPasskey, account, signOut };
}
