import type { FastifyBaseLogger } from 'fastify';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { grantScopes, type Scope } from '../authz/scopes.ts';
import type { Clock } from '../clock.ts';
import type { FormTokens } from '../html/forms.ts';
import type { Metrics } from '../http/metrics.ts';
import { LoginRefusedError } from '../login/errors.ts';
import type { LoginService } from '../login/service.ts';
import type { SessionsService } from '../sessions/service.ts';
import {
  type AuthorizationRequest,
  type AuthorizeParameters,
  checkAuthorizationRequest,
  redirectBack,
} from './authorize-request.ts';
import type { ClientsService } from './clients/service.ts';
import type { AuthorizationCodes } from './codes.ts';
import type { Consents } from './consents.ts';
import { authorizePages } from './pages.ts';

/** What a page request of the flow answers: a page, or a 303 somewhere; and the sign-in cookie to set. */
export type Outcome =
  | {
      readonly page: string;
      readonly status: number;
      readonly formTargets: readonly string[];
      /** Which page of the flow it is, for the metrics. */
      readonly kind?: 'login' | 'consent';
    }
  | { readonly location: string };

/** The browser a request came from: its binding cookie (CSRF) and its sign-in cookie's secret. */
export interface Browser {
  readonly id: string;
  readonly signin: string | undefined;
}

const FORMS = ['login', 'consent', 'logout'] as const;

/** The origin (or private-use scheme) a redirect URI leads to, for the pages' form-action. */
function formTarget(redirectUri: string): string {
  const url = new URL(redirectUri);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
}

/** The request's parameters in one canonical text, so a form token can bind them. */
const canonical = (parameters: AuthorizeParameters) =>
  JSON.stringify(Object.entries(parameters).sort(([a], [b]) => a.localeCompare(b)));

export type Authorization = ReturnType<typeof createAuthorization>;

/**
 * The authorization endpoint's rules (RFC 6749 §4.1, RFC 7636, RFC 9207, API.md "Authorization"):
 * check the request, sign the browser in on inkgate's own page, ask consent where it is needed, and
 * answer a code bound to the client, the redirect URI, the challenge, the user, the scope and the
 * sign-in.
 */
export function createAuthorization(deps: {
  clients: ClientsService;
  sessions: SessionsService;
  login: LoginService;
  codes: AuthorizationCodes;
  consents: Consents;
  forms: FormTokens;
  audit: AuditTrail;
  clock: Clock;
  issuer: string;
  loginSessionTtlSeconds: number;
  metrics: Metrics | undefined;
}) {
  const { clients, sessions, codes, consents, forms, audit, clock, issuer } = deps;

  const formToken = (form: (typeof FORMS)[number], browser: Browser, parameters: AuthorizeParameters) =>
    forms.issue(`${form}|${browser.id}|${canonical(parameters)}`);
  const formValid = (
    form: (typeof FORMS)[number],
    browser: Browser,
    parameters: AuthorizeParameters,
    token: unknown,
  ) => forms.valid(token, `${form}|${browser.id}|${canonical(parameters)}`);

  const back = (request: AuthorizationRequest, fields: Record<string, string>): Outcome => ({
    location: redirectBack(request.redirectUri, fields, request.state, issuer),
  });
  const refuse = (request: AuthorizationRequest, error: string, description: string) =>
    back(request, { error, error_description: description });

  async function check(parameters: AuthorizeParameters) {
    const client = parameters.client_id ? await clients.find(parameters.client_id) : undefined;
    return checkAuthorizationRequest(parameters, client);
  }

  /** A checked request, or what to answer instead (a 400 page, or the error back to the client). */
  async function checked(parameters: AuthorizeParameters): Promise<AuthorizationRequest | Outcome> {
    const result = await check(parameters);
    if (result.ok) return result.request;
    if ('page' in result)
      return { page: authorizePages.cannotContinue(result.page), status: 400, formTargets: [] };
    return {
      location: redirectBack(
        result.redirectUri,
        { error: result.error, error_description: result.description },
        result.state,
        issuer,
      ),
    };
  }

  async function loginPage(
    request: AuthorizationRequest | undefined,
    browser: Browser,
    problem?: string,
  ): Promise<Outcome> {
    const parameters = request?.parameters ?? {};
    return {
      page: authorizePages.login({
        parameters: parameters as Record<string, string | undefined>,
        csrf: await formToken('login', browser, parameters),
        clientName: request?.client.name,
        problem,
      }),
      status: 200,
      formTargets: request ? [formTarget(request.redirectUri)] : [],
      kind: 'login',
    };
  }

  /** The code, once the browser is signed in and consent is not (or no longer) needed. */
  async function issueCode(
    request: AuthorizationRequest,
    signedIn: { sessionId: string; userId: string; authTime: Date },
    scopes: readonly Scope[],
  ) {
    const code = await codes.issue({
      clientId: request.client.client_id,
      userId: signedIn.userId,
      browserSessionId: signedIn.sessionId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      scope: scopes.join(' '),
      authTime: signedIn.authTime,
    });
    return back(request, { code });
  }

  /**
   * Counts an answer by what it is (a bounded set: code, the RFC 6749 error codes, the pages, refused)
   * and hands it on.
   */
  function counted(outcome: Outcome): Outcome {
    if (deps.metrics) {
      let label: string;
      if ('location' in outcome) {
        const query = new URL(outcome.location, issuer).searchParams;
        label = query.get('code') !== null ? 'code' : (query.get('error') ?? 'login');
      } else {
        label = outcome.status === 400 ? 'refused' : (outcome.kind ?? 'login');
      }
      deps.metrics.authorizations.inc({ outcome: label });
    }
    return outcome;
  }

  /** GET or POST /authorize. */
  async function authorize(parameters: AuthorizeParameters, browser: Browser): Promise<Outcome> {
    return counted(await decideAuthorization(parameters, browser));
  }

  async function decideAuthorization(parameters: AuthorizeParameters, browser: Browser): Promise<Outcome> {
    const request = await checked(parameters);
    if (!('client' in request)) return request;
    const signedIn = await sessions.browserSession(browser.signin);
    const now = clock.now().getTime();
    const tooOld =
      signedIn !== undefined &&
      request.maxAgeSeconds !== undefined &&
      now - signedIn.authTime.getTime() > request.maxAgeSeconds * 1000;
    if (!signedIn || request.prompt === 'login' || tooOld) {
      if (request.prompt === 'none') return refuse(request, 'login_required', 'the user is not signed in');
      return loginPage(request, browser);
    }
    // The scopes: those asked for, or all the client may have; never more than the role allows now.
    const wanted = request.scopes ?? (request.client.scopes.split(' ').filter(Boolean) as Scope[]);
    const scopes = grantScopes(signedIn.role, wanted);
    if (!scopes) {
      // Asked for explicitly and beyond the role: refused; asked for nothing: what the role allows of it.
      if (request.scopes !== undefined) {
        return refuse(request, 'invalid_scope', 'the requested scope is more than this account may have');
      }
    }
    const granted = scopes ?? wanted.filter((scope) => grantScopes(signedIn.role, [scope]) !== undefined);
    const needsConsent =
      !request.client.first_party &&
      (request.prompt === 'consent' ||
        !(await consents.covers(signedIn.userId, request.client.client_id, granted)));
    if (needsConsent) {
      if (request.prompt === 'none')
        return refuse(request, 'consent_required', 'the user has not consented to this client');
      return {
        page: authorizePages.consent({
          parameters: request.parameters as Record<string, string | undefined>,
          csrf: await formToken('consent', browser, request.parameters),
          clientName: request.client.name,
          username: signedIn.username,
          scopes: granted,
        }),
        status: 200,
        formTargets: [formTarget(request.redirectUri)],
        kind: 'consent',
      };
    }
    if (!request.client.first_party) await consents.touch(signedIn.userId, request.client.client_id);
    return issueCode(request, signedIn, granted);
  }

  /** POST /consent's decision, from this browser's own consent page. */
  async function decide(
    form: AuthorizeParameters & { csrf?: string; decision?: string },
    browser: Browser,
    facts: AuditFacts,
  ): Promise<Outcome | 'forbidden'> {
    const { csrf, decision, ...parameters } = form;
    if (!(await formValid('consent', browser, parameters, csrf))) return 'forbidden';
    const request = await checked(parameters);
    if (!('client' in request)) return request;
    const signedIn = await sessions.browserSession(browser.signin);
    if (!signedIn) return loginPage(request, browser, 'Your sign-in has ended: sign in again.');
    if (decision !== 'approve') return refuse(request, 'access_denied', 'the user denied the request');
    const wanted = request.scopes ?? (request.client.scopes.split(' ').filter(Boolean) as Scope[]);
    const granted = wanted.filter((scope) => grantScopes(signedIn.role, [scope]) !== undefined);
    const events = [
      audit.event('authorization_granted', {
        ...facts,
        userId: signedIn.userId,
        sessionId: signedIn.sessionId,
        details: { client_id: request.client.client_id, scopes: granted },
      }),
    ];
    await consents.grant(signedIn.userId, request.client.client_id, granted, events);
    audit.published(events);
    return issueCode(request, signedIn, granted);
  }

  /** POST /account/login: the password under every login rule, then the browser's sign-in. */
  async function signIn(
    form: AuthorizeParameters & { csrf?: string; username?: string; password?: string },
    browser: Browser,
    context: { address: string; facts: AuditFacts; log: FastifyBaseLogger },
  ): Promise<{ outcome: Outcome; signin?: string } | 'forbidden'> {
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
        deviceCookie: undefined,
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
    await verified.succeeded();
    if (!hasRequest) return { outcome: { location: '/account/login' }, signin: started.secret };
    // Back to /authorize with the same request: a fresh sign-in answers prompt=login and max_age.
    const { prompt, ...rest } = parameters;
    const next = new URLSearchParams(
      Object.entries(prompt === 'login' ? rest : parameters) as Array<[string, string]>,
    );
    return { outcome: { location: `/authorize?${next}` }, signin: started.secret };
  }

  return {
    authorize,
    decide: async (...args: Parameters<typeof decide>) => {
      const outcome = await decide(...args);
      return outcome === 'forbidden' ? outcome : counted(outcome);
    },
    signIn,
    /**
     * GET /account/login: the form (for an authorization request, when it carries one; saying why the
     * last try failed), or who is signed in here with a sign-out button.
     */
    async account(
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
    },
    /** POST /account/logout from this browser's page: its sign-in ends (its client sessions stay). */
    async signOut(
      form: { csrf?: string },
      browser: Browser,
      facts: AuditFacts,
    ): Promise<Outcome | 'forbidden'> {
      if (!(await formValid('logout', browser, {}, form.csrf))) return 'forbidden';
      const signedIn = await sessions.browserSession(browser.signin);
      if (signedIn) await sessions.revoke(signedIn.sessionId, 'logged_out', facts);
      return { location: '/account/logout' };
    },
  };
}
