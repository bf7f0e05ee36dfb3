import { page } from '../html/page.ts';
import { html } from '../html/template.ts';

/** The pages a link in a message opens (the shell and headers are html/page.ts). */
export const pages = {
  /**
   * GET of a verification link: a button, nothing more. Mail scanners and prefetchers open links;
   * only the person's POST of this form spends the token.
   */
  confirmEmail: (token: string) =>
    page(
      'Confirm your address',
      html`<p>Confirm that this address is yours.</p>
<form method="post" action="/account/verify-email">
<input type="hidden" name="token" value="${token}">
<button type="submit">Confirm my address</button>
</form>`,
    ),

  verified: (email: string) =>
    page('Address confirmed', html`<p>Thank you: <strong>${email}</strong> is confirmed.</p>`),

  invalidLink: () =>
    page(
      'This link does not work',
      html`<p class="error">The link is invalid, has expired or was already used.</p>
<p>Ask for a new one: links work once, and only the newest one does.</p>`,
    ),

  resetForm: (token: string, problem?: string) =>
    page(
      'Choose a new password',
      html`${problem && html`<p class="error" role="alert">${problem}</p>`}
<form method="post" action="/account/reset-password">
<input type="hidden" name="token" value="${token}">
<label for="new_password">New password (8 to 1024 characters)</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" minlength="8" maxlength="1024" required>
<label for="new_password_again">The same again</label>
<input id="new_password_again" name="new_password_again" type="password" autocomplete="new-password" minlength="8" maxlength="1024" required>
<button type="submit">Set the new password</button>
</form>
<p>Setting it logs out every session of your account.</p>`,
    ),

  passwordReset: () =>
    page(
      'Password changed',
      html`<p>Your new password is set, and every session of your account was logged out. Log in with the new password.</p>`,
    ),
};
