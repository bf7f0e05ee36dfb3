import { createHash } from 'node:crypto';
import { escapeHtml } from '../shared/html.ts';

/**
 * The two pages a link in a message opens. Server-rendered, no script at all; the one style block is
 * allowed by its hash, so the policy stays strict: nothing else loads, the form posts only here, no
 * page frames them, and `Referrer-Policy: no-referrer` keeps the token in the URL from leaking.
 */
const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}' +
  'label{display:block;margin:.75rem 0 .25rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}' +
  'button{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}.error{color:#a40000}';
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
});

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · inkgate</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
}

export const pages = {
  verified: (email: string) =>
    page('Address confirmed', `<p>Thank you: <strong>${escapeHtml(email)}</strong> is confirmed.</p>`),

  invalidLink: () =>
    page(
      'This link does not work',
      '<p class="error">The link is invalid, has expired or was already used.</p>' +
        '<p>Ask for a new one: links work once, and only the newest one does.</p>',
    ),

  resetForm: (token: string, problem?: string) =>
    page(
      'Choose a new password',
      `${problem ? `<p class="error" role="alert">${escapeHtml(problem)}</p>` : ''}
<form method="post" action="/account/reset-password">
<input type="hidden" name="token" value="${escapeHtml(token)}">
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
      '<p>Your new password is set, and every session of your account was logged out. Log in with the new password.</p>',
    ),
};
