import { csrfField } from '../html/forms.ts';
import { page } from '../html/page.ts';
import { type Html, html, trustedHtml } from '../html/template.ts';
import type { PasskeyPublic } from '../mfa/passkeys.ts';

/** A form of the security page: one button, posting the page's token (and `fields`). */
const action = (target: string, csrf: string, label: string, fields: Html = html``): Html =>
  html`<form method="post" action="${target}">${csrfField(csrf)}${fields}<button type="submit">${label}</button></form>`;

/** The account security page (API.md "Multi-factor authentication"): factors, passkeys, recovery codes. */
export const securityPages = {
  security: (input: {
    username: string;
    csrf: string;
    /** Changes are allowed: no factor yet, or a recent two-factor sign-in. */
    fresh: boolean;
    required: boolean;
    status: { totp: boolean; passkeys: number; recovery_codes_left: number };
    pendingTotp: { secret: string; qr: string } | undefined;
    passkeys: readonly PasskeyPublic[];
    problem?: string | undefined;
  }) =>
    page(
      'Account security',
      html`<p>Signed in as <strong>${input.username}</strong>.</p>
${input.problem !== undefined && html`<p class="error" role="alert">${input.problem}</p>`}
${input.required && input.status.totp === false && input.status.passkeys === 0 && html`<p class="error">This server requires a second factor for your account: until you add one, your tokens can only manage your account.</p>`}
${!input.fresh && html`<p class="error">To change these, sign in again with your second factor: sign out, then sign in.</p>`}
<h2>Authenticator app</h2>
${
  input.status.totp
    ? html`<p>On: sign-ins ask for a code from your app.</p>${input.fresh && action('/account/security/totp/remove', input.csrf, 'Remove the app')}`
    : input.pendingTotp
      ? html`<p>Scan this with your authenticator app, or type the key, then enter the code it shows.</p>
${trustedHtml(input.pendingTotp.qr)}
<p>Key: <code id="totp-secret">${input.pendingTotp.secret}</code></p>
<form method="post" action="/account/security/totp/confirm">${csrfField(input.csrf)}
<label for="code">Code</label>
<input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength="16" required>
<button type="submit">Turn it on</button></form>`
      : html`<p>Off.</p>${input.fresh && action('/account/security/totp', input.csrf, 'Set up an authenticator app')}`
}
<h2>Passkeys</h2>
${
  input.passkeys.length === 0
    ? html`<p>None yet.</p>`
    : html`<ul>${input.passkeys.map(
        (passkey) =>
          html`<li>${passkey.name}, added ${passkey.created_at.toISOString().slice(0, 10)}${passkey.last_used_at && html`, last used ${passkey.last_used_at.toISOString().slice(0, 10)}`}${input.fresh && action('/account/security/passkeys/remove', input.csrf, 'Remove', html`<input type="hidden" name="id" value="${passkey.id}">`)}</li>`,
      )}</ul>`
}
${
  input.fresh &&
  html`<form id="passkey-form" method="post" action="/account/security/passkeys">${csrfField(input.csrf)}
<label for="passkey-name">Name of the new passkey</label>
<input id="passkey-name" name="name" maxlength="100" value="Passkey">
<input type="hidden" name="response" value="">
</form>
<button type="button" hidden data-passkey="register" data-form="passkey-form" data-options="/account/security/passkeys/options" data-csrf="${input.csrf}">Add a passkey</button>
<p id="passkey-status" role="status"></p>`
}
<h2>Recovery codes</h2>
${
  input.status.totp || input.status.passkeys > 0
    ? html`<p>${input.status.recovery_codes_left} left: each signs in once when your app or passkeys are not at hand.</p>${input.fresh && action('/account/security/recovery-codes', input.csrf, 'Make new recovery codes')}`
    : html`<p>They come with your first second factor.</p>`
}
<p><a href="/account/login">Back</a></p>`,
      { script: true },
    ),

  /** Recovery codes, shown this once (the answer of the POST that made them: never stored, never a GET). */
  recoveryCodes: (codes: readonly string[]) =>
    page(
      'Your recovery codes',
      html`<p>Keep these somewhere safe: each signs you in once, and they are not shown again. Any earlier codes no longer work.</p>
<ul id="recovery-codes">${codes.map((code) => html`<li><code>${code}</code></li>`)}</ul>
<p><a href="/account/security">Done</a></p>`,
    ),
};
