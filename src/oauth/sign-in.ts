import type { FastifyBaseLogger } from 'fastify';
import type { AuditFacts } from '../audit/events.ts';
import { LoginRefusedError } from '../login/errors.ts';
import type { LoginService } from '../login/service.ts';
import type { SessionsService } from '../sessions/service.ts';
import type { AuthorizeParameters } from './authorize-request.ts';
import type { Browser, Outcome, PageKit } from './page-kit.ts';
import { authorizePages } from './pages.ts';

/**
 * The browser's own sign-in at inkgate: the login page's form (every login rule, then a session of
 * kind browser), the account page, and signing out.
 */
export function createSignIn(deps: {
  sessions: SessionsService;
  login: LoginService;
  loginSessionTtlSeconds: number;
  kit: Pick<PageKit, 'formToken' | 'formValid' | 'checked' | 'loginPage'>;
}) {
  const { sessions } = deps;
  const { formToken, formValid, checked, loginPage } = deps.kit;

  /** POST /account/login: the password under every login rule, then the browser's sign-in. */
  async function signIn(
    form: AuthorizeParameters & { csrf?: string; username?: string; password?: string },
    browser: Browser,
    context: { address: string; facts: AuditFacts; log: FastifyBaseLogger },
  ): Promise<{ outcome: Outcome; signin?: string; device?: string | undefined } | 'forbidden'> {
    const { csrf, username, password, ...parameters } = form;
    if (!(await formValid('login', browser, parameters, csrf))) return 'forbidden';
    const hasRequest = Object.keys(parameters).length > 0;
    const request = hasRequest ? await checked(parameters) : undefined;
    if (request !== undefined && !('client' in request)) return { outcome: request };
    // Every POST answers 303 (API.md): a refusal goes back to the login page, which says why.
    const again = (failed: 'missing' | 'credentials' | 'throttled', retryAfter?: number): Outcome => {
      const query = new URLSearchParams(Object.entries(parameters) as Array<[string, string]>);
      query.set('failed', failed);
      if (retryAfter !== undefined) query.set('retry_after', String(retryAfter));
      return { location: `/account/login?${query}` };
    };
    if (!username || !password) return { outcome: again('missing') };
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
            ? again('credentials')
            : again('throttled', error.retryAfterSeconds ?? 1),
      };
    }
    const { user } = verified;
    const started = await sessions.startBrowser({
      user,
      userAgent: context.facts.userAgent ?? '',
      ip: context.facts.ip ?? '',
      verified: { passwordHash: user.password_hash, sessionsEpoch: Number(user.sessions_epoch) },
      ttlSeconds: deps.loginSessionTtlSeconds,
      details: { seen_before: verified.seenBefore },
    });
    if (!started) {
      await verified.abandoned();
      return { outcome: again('credentials') };
    }
    const { deviceCookie: device } = await verified.succeeded();
    if (!hasRequest) return { outcome: { location: '/account/login' }, signin: started.secret, device };
    // Back to /authorize with the same request: a fresh sign-in answers prompt=login and max_age.
    const { prompt, ...rest } = parameters;
    const next = new URLSearchParams(
      Object.entries(prompt === 'login' ? rest : parameters) as Array<[string, string]>,
    );
    return { outcome: { location: `/authorize?${next}` }, signin: started.secret, device };
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

  return { signIn, account, signOut };
}
