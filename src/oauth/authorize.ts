import type { UsersRepository } from '../accounts/repository.ts';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { ACR_MFA, type AuthMethod, acrOf } from '../authz/authentication.ts';
import { hasSecondFactor } from '../authz/mfa-policy.ts';
import { grantScopes, type Scope } from '../authz/scopes.ts';
import type { Clock } from '../clock.ts';
import type { FormTokens } from '../html/forms.ts';
import type { Metrics } from '../http/metrics.ts';
import type { LoginService } from '../login/service.ts';
import type { Passkeys } from '../mfa/passkeys.ts';
import type { Mfa } from '../mfa/service.ts';
import type { SessionsService } from '../sessions/service.ts';
import { type AuthorizationRequest, type AuthorizeParameters, redirectBack } from './authorize-request.ts';
import type { ClientsService } from './clients/service.ts';
import type { AuthorizationCodes } from './codes.ts';
import type { Consents } from './consents.ts';
import { type Browser, createPageKit, formTarget, type Outcome } from './page-kit.ts';
import { authorizePages } from './pages.ts';
import type { PendingSignIns } from './pending-sign-ins.ts';
import { createSecurityPage } from './security.ts';
import { createSignIn } from './sign-in.ts';

export type { Browser, Outcome } from './page-kit.ts';

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
  users: Pick<UsersRepository, 'findById'>;
  mfa: Mfa;
  passkeys: Passkeys;
  pending: PendingSignIns;
  codes: AuthorizationCodes;
  consents: Consents;
  forms: FormTokens;
  audit: AuditTrail;
  clock: Clock;
  issuer: string;
  loginSessionTtlSeconds: number;
  /** STEP_UP_MAX_AGE: how recent a two-factor sign-in the security page's changes need. */
  stepUpMaxAgeSeconds: number;
  metrics: Metrics | undefined;
}) {
  const { clients, sessions, codes, consents, forms, audit, clock, issuer } = deps;

  const { formToken, formValid, checked, loginPage, passkeyTokens } = createPageKit({
    clients,
    forms,
    issuer,
  });
  const back = (request: AuthorizationRequest, fields: Record<string, string>): Outcome => ({
    location: redirectBack(request.redirectUri, fields, request.state, issuer),
  });
  const refuse = (request: AuthorizationRequest, error: string, description: string) =>
    back(request, { error, error_description: description });

  /** The code, once the browser is signed in and consent is not (or no longer) needed. */
  async function issueCode(
    request: AuthorizationRequest,
    signedIn: { sessionId: string; userId: string; authTime: Date; amr: readonly AuthMethod[] },
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
      amr: signedIn.amr,
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
    // The account has a second factor (set up, perhaps, after this browser signed in) and the sign-in
    // did not use one: sign in again, through the second step (acr_values=…:mfa asks no more than that).
    const tooWeak =
      signedIn !== undefined && hasSecondFactor(signedIn.account) && acrOf(signedIn.amr) !== ACR_MFA;
    if (!signedIn || request.prompt === 'login' || tooOld || tooWeak) {
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

  const pages = createSignIn({ ...deps, kit: { formToken, formValid, checked, loginPage, passkeyTokens } });

  return {
    authorize,
    decide: async (...args: Parameters<typeof decide>) => {
      const outcome = await decide(...args);
      return outcome === 'forbidden' ? outcome : counted(outcome);
    },
    ...pages,
    security: createSecurityPage({ ...deps, kit: { formToken, formValid } }),
  };
}
