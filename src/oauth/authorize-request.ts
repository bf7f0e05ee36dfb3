import { parseScopeParameter, type Scope, UnknownScopeError } from '../authz/scopes.ts';
import type { OAuthClientRow } from '../db/schema.ts';
import { matchRedirectUri } from './clients/redirect-uris.ts';

/** What /authorize takes (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC's prompt and max_age); the rest is ignored. */
export interface AuthorizeParameters {
  readonly response_type?: string | undefined;
  readonly client_id?: string | undefined;
  readonly redirect_uri?: string | undefined;
  readonly scope?: string | undefined;
  readonly state?: string | undefined;
  readonly code_challenge?: string | undefined;
  readonly code_challenge_method?: string | undefined;
  readonly prompt?: string | undefined;
  readonly max_age?: string | undefined;
  readonly acr_values?: string | undefined;
}

export const AUTHORIZE_PARAMETERS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
  'prompt',
  'max_age',
  'acr_values',
] as const;

/** A request that passed every check: what the pages carry and the code is bound to. */
export interface AuthorizationRequest {
  readonly client: OAuthClientRow;
  /** The registered URI it matched, and the one to redirect to (the one sent: a loopback port may differ). */
  readonly redirectUri: string;
  /** The scopes asked for; undefined means all the client may have and the user's role allows. */
  readonly scopes: readonly Scope[] | undefined;
  readonly state: string | undefined;
  readonly codeChallenge: string;
  readonly prompt: 'none' | 'login' | 'consent' | undefined;
  readonly maxAgeSeconds: number | undefined;
  /** The parameters exactly as validated, for the pages' hidden field. */
  readonly parameters: AuthorizeParameters;
}

/** Where a request stands after the checks. */
export type Checked =
  | { readonly ok: true; readonly request: AuthorizationRequest }
  /** Nothing can be trusted to redirect to (RFC 6749 §4.1.2.1): a page says what is wrong. */
  | { readonly ok: false; readonly page: string }
  /** The client and redirect URI are good: the error goes back to the client. */
  | {
      readonly ok: false;
      readonly redirectUri: string;
      readonly error: string;
      readonly description: string;
      readonly state: string | undefined;
    };

/** RFC 7636 §4.2: S256 of a 32-octet verifier is 43 base64url characters; anything else is no challenge of S256. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Every check of an authorization request, in the order RFC 6749 §4.1.2.1 asks: first the client and
 * the redirect URI (errors there never redirect), then the rest (errors there go back to the client).
 */
export function checkAuthorizationRequest(
  parameters: AuthorizeParameters,
  client: OAuthClientRow | undefined,
): Checked {
  if (!parameters.client_id) return { ok: false, page: 'The request names no client (client_id).' };
  if (!client) return { ok: false, page: 'The request names a client this server does not know.' };
  const registered = JSON.parse(client.redirect_uris) as string[];
  let redirectUri = parameters.redirect_uri;
  if (redirectUri === undefined) {
    if (registered.length !== 1) {
      return { ok: false, page: 'The request names no redirect URI, and the client has several.' };
    }
    redirectUri = registered[0]!;
  } else if (matchRedirectUri(registered, redirectUri) === undefined) {
    return { ok: false, page: 'The redirect URI is not one the client registered.' };
  }
  const state = parameters.state;
  const fail = (error: string, description: string): Checked => ({
    ok: false,
    redirectUri: redirectUri!,
    error,
    description,
    state,
  });
  if (parameters.response_type !== 'code') {
    return parameters.response_type === undefined
      ? fail('invalid_request', 'response_type is required')
      : fail('unsupported_response_type', 'only response_type=code is supported');
  }
  // PKCE with S256, of every client (OAuth 2.1, RFC 9700 §2.1.1): plain would show the verifier.
  if (parameters.code_challenge === undefined)
    return fail('invalid_request', 'code_challenge is required (PKCE)');
  if (parameters.code_challenge_method !== 'S256') {
    return fail('invalid_request', 'code_challenge_method must be S256');
  }
  if (!S256_CHALLENGE.test(parameters.code_challenge)) {
    return fail('invalid_request', 'code_challenge must be 43 base64url characters (S256)');
  }
  let scopes: Scope[] | undefined;
  try {
    scopes = parseScopeParameter(parameters.scope);
  } catch (error) {
    if (error instanceof UnknownScopeError) return fail('invalid_scope', error.message);
    throw error;
  }
  const allowed = client.scopes.split(' ');
  if (scopes?.some((scope) => !allowed.includes(scope))) {
    return fail('invalid_scope', 'the requested scope is more than this client may ask for');
  }
  const prompt = parameters.prompt;
  if (prompt !== undefined && prompt !== 'none' && prompt !== 'login' && prompt !== 'consent') {
    return fail('invalid_request', 'prompt must be none, login or consent');
  }
  let maxAgeSeconds: number | undefined;
  if (parameters.max_age !== undefined) {
    if (!/^\d{1,9}$/.test(parameters.max_age))
      return fail('invalid_request', 'max_age must be a whole number of seconds');
    maxAgeSeconds = Number(parameters.max_age);
  }
  return {
    ok: true,
    request: {
      client,
      redirectUri,
      scopes,
      state,
      codeChallenge: parameters.code_challenge,
      prompt,
      maxAgeSeconds,
      parameters: Object.fromEntries(
        AUTHORIZE_PARAMETERS.filter((name) => parameters[name] !== undefined).map((name) => [
          name,
          parameters[name],
        ]),
      ),
    },
  };
}

/** The redirect back to the client (RFC 6749 §4.1.2, RFC 9207): the answer's fields, `state` and `iss`. */
export function redirectBack(
  redirectUri: string,
  fields: Record<string, string>,
  state: string | undefined,
  issuer: string,
): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(fields)) url.searchParams.set(name, value);
  if (state !== undefined) url.searchParams.set('state', state);
  url.searchParams.set('iss', issuer);
  return url.toString();
}
