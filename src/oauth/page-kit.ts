import type { FormTokens } from '../html/forms.ts';
import {
  type AuthorizationRequest,
  type AuthorizeParameters,
  checkAuthorizationRequest,
  redirectBack,
} from './authorize-request.ts';
import type { ClientsService } from './clients/service.ts';
import { authorizePages } from './pages.ts';

/** What a page request of the flow answers: a page, or a 303 somewhere; and the sign-in cookie to set. */
export type Outcome =
  | {
      readonly page: string;
      readonly status: number;
      readonly formTargets: readonly string[];
      /** Which page of the flow it is, for the metrics. */
      readonly kind?: 'login' | 'consent';
      /** The page loads the page script (its headers allow it). */
      readonly script?: boolean;
    }
  | { readonly location: string };

/** The browser a request came from: its binding cookie (CSRF) and its sign-in cookie's secret. */
export interface Browser {
  readonly id: string;
  readonly signin: string | undefined;
  /** The signed device cookie a sign-in here left (API.md "No lockout"), if it brought one. */
  readonly device?: string | undefined;
}

const FORMS = [
  'login',
  'second_factor',
  'passkey',
  'passkey_options',
  'consent',
  'logout',
  'security',
] as const;

/** The origin (or private-use scheme) a redirect URI leads to, for the pages' form-action. */
export function formTarget(redirectUri: string): string {
  const url = new URL(redirectUri);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
}

/** The request's parameters in one canonical text, so a form token can bind them. */
const canonical = (parameters: AuthorizeParameters) =>
  JSON.stringify(Object.entries(parameters).sort(([a], [b]) => a.localeCompare(b)));

/**
 * What every page of the flow shares: the form tokens (bound to this browser, the form and the
 * request), the request's checks with what to answer when they fail, and the login page.
 */
export function createPageKit(deps: { clients: ClientsService; forms: FormTokens; issuer: string }) {
  const { clients, forms, issuer } = deps;

  const formToken = (form: (typeof FORMS)[number], browser: Browser, parameters: AuthorizeParameters) =>
    forms.issue(`${form}|${browser.id}|${canonical(parameters)}`);
  const formValid = (
    form: (typeof FORMS)[number],
    browser: Browser,
    parameters: AuthorizeParameters,
    token: unknown,
  ) => forms.valid(token, `${form}|${browser.id}|${canonical(parameters)}`);

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

  /** The passkey form's token (bound to the request) and its options request's (bound to the browser). */
  const passkeyTokens = async (browser: Browser, parameters: AuthorizeParameters) => ({
    csrf: await formToken('passkey', browser, parameters),
    optionsCsrf: await formToken('passkey_options', browser, {}),
  });

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
        passkey: await passkeyTokens(browser, parameters),
        clientName: request?.client.name,
        problem,
      }),
      status: 200,
      formTargets: request ? [formTarget(request.redirectUri)] : [],
      kind: 'login',
      script: true,
    };
  }

  return { formToken, formValid, checked, loginPage, passkeyTokens };
}

export type PageKit = ReturnType<typeof createPageKit>;
