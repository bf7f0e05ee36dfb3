import { SCOPE_DESCRIPTIONS, type Scope } from '../authz/scopes.ts';
import { csrfField } from '../html/forms.ts';
import { page } from '../html/page.ts';
import { type Html, html } from '../html/template.ts';

/** The authorization request's own fields, carried back unchanged by every form (API.md "Authorization"). */
const carried = (parameters: Readonly<Record<string, string | undefined>>): Html =>
  html`${Object.entries(parameters).map(([name, value]) =>
    value === undefined ? '' : html`<input type="hidden" name="${name}" value="${value}">`,
  )}`;

/**
 * A passkey ceremony's button and the form it posts (the page script fills `response`): hidden until
 * the script finds WebAuthn in the browser.
 */
const passkeyForm = (input: {
  parameters: Readonly<Record<string, string | undefined>>;
  csrf: string;
  optionsCsrf: string;
  label: string;
}): Html =>
  html`<form id="passkey-form" method="post" action="/account/passkey">
${csrfField(input.csrf)}${carried(input.parameters)}<input type="hidden" name="response" value="">
</form>
<button type="button" hidden data-passkey="sign-in" data-form="passkey-form" data-options="/account/passkey/options" data-csrf="${input.optionsCsrf}">${input.label}</button>
<p id="passkey-status" role="status"></p>`;

/** inkgate's own pages of the authorization flow: sign in, consent, sign out, and what cannot go on. */
export const authorizePages = {
  login: (input: {
    parameters: Readonly<Record<string, string | undefined>>;
    csrf: string;
    /** The passkey form's token, and the one its options request carries. */
    passkey: { csrf: string; optionsCsrf: string };
    clientName: string | undefined;
    problem?: string | undefined;
  }) =>
    page(
      'Sign in',
      html`${input.clientName !== undefined && html`<p><strong>${input.clientName}</strong> asks you to sign in with your inkgate account.</p>`}
${input.problem !== undefined && html`<p class="error" role="alert">${input.problem}</p>`}
<form method="post" action="/account/login">
${csrfField(input.csrf)}${carried(input.parameters)}
<label for="username">Username or email</label>
<input id="username" name="username" autocomplete="username" maxlength="254" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" maxlength="4096" required>
<button type="submit">Sign in</button>
</form>
${passkeyForm({ parameters: input.parameters, ...input.passkey, label: 'Sign in with a passkey' })}`,
      { script: true },
    ),

  secondFactor: (input: {
    parameters: Readonly<Record<string, string | undefined>>;
    csrf: string;
    passkey: { csrf: string; optionsCsrf: string };
    username: string;
    problem?: string | undefined;
  }) =>
    page(
      'Second step',
      html`<p>Signing in as <strong>${input.username}</strong>: enter the 6-digit code your authenticator app shows, or one of your recovery codes.</p>
${input.problem !== undefined && html`<p class="error" role="alert">${input.problem}</p>`}
<form method="post" action="/account/login/second-factor">
${csrfField(input.csrf)}${carried(input.parameters)}
<label for="code">Code</label>
<input id="code" name="code" autocomplete="one-time-code" inputmode="text" maxlength="64" required autofocus>
<button type="submit">Continue</button>
</form>
${passkeyForm({ parameters: input.parameters, ...input.passkey, label: 'Use a passkey instead' })}
<p><a href="/account/login">Start again</a></p>`,
      { script: true },
    ),

  consent: (input: {
    parameters: Readonly<Record<string, string | undefined>>;
    csrf: string;
    clientName: string;
    username: string;
    scopes: readonly Scope[];
  }) =>
    page(
      'Allow access?',
      html`<p><strong>${input.clientName}</strong> asks to act as <strong>${input.username}</strong>:</p>
<ul>${input.scopes.map((scope) => html`<li>${SCOPE_DESCRIPTIONS[scope]} (<code>${scope}</code>)</li>`)}</ul>
<form method="post" action="/account/consent">
${csrfField(input.csrf)}${carried(input.parameters)}
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<p>You can withdraw this at any time; its sessions then end.</p>`,
    ),

  signedIn: (input: { username: string; csrf: string }) =>
    page(
      'Signed in',
      html`<p>You are signed in as <strong>${input.username}</strong>.</p>
<p><a href="/account/security">Account security</a>: authenticator app, passkeys, recovery codes.</p>
<form method="post" action="/account/logout">
${csrfField(input.csrf)}
<button type="submit">Sign out</button>
</form>`,
    ),

  signedOut: () =>
    page('Signed out', html`<p>This browser is signed out.</p><p><a href="/account/login">Sign in</a></p>`),

  /** RFC 6749 §4.1.2.1: an unknown client or a bad redirect URI is never redirected to. */
  cannotContinue: (why: string) =>
    page(
      'This sign-in cannot go on',
      html`<p class="error">${why}</p><p>Go back to the application and try again; if it keeps happening, tell its makers.</p>`,
    ),

  forbidden: () =>
    page(
      'This form has expired',
      html`<p class="error">This form did not come from this browser’s page, or it is too old. Nothing was changed.</p><p><a href="/account/login">Start again</a></p>`,
    ),
};
