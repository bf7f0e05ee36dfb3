import type { SecurityChange } from '../accounts/dependencies.ts';
import { escapeHtml } from '../html/template.ts';
import type { MailContent } from './outbox.ts';

/** `ada@example.com` → `a**@example.com`: enough for its owner to recognise, not to read it off. */
function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  const local = email.slice(0, at);
  return `${local.slice(0, 1)}${'*'.repeat(Math.max(local.length - 1, 2))}${email.slice(at)}`;
}

/** A message of paragraphs, and at most one link (the text part holds it on a line of its own). */
function message(
  subject: string,
  paragraphs: readonly string[],
  link?: { url: string; label: string },
): MailContent {
  const text = [...paragraphs, ...(link ? [`${link.label}:\n${link.url}`] : []), '-- inkgate'].join('\n\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">',
    ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    ...(link ? [`<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p>`] : []),
    '<p>-- inkgate</p></body></html>',
  ].join('\n');
  return { subject, text: `${text}\n`, html };
}

const minutes = (seconds: number) =>
  seconds >= 7200
    ? `${Math.round(seconds / 3600)} hours`
    : `${Math.max(1, Math.round(seconds / 60))} minutes`;

const SECURITY_SUBJECTS: Record<SecurityChange, string> = {
  totp_added: 'An authenticator app was added to your account',
  totp_removed: 'The authenticator app was removed from your account',
  passkey_added: 'A passkey was added to your account',
  passkey_removed: 'A passkey was removed from your account',
  recovery_code_used: 'A recovery code was used to sign in',
  recovery_codes_renewed: 'Your recovery codes were renewed',
  mfa_reset: 'An administrator removed your second factors',
};

const SECURITY_TEXTS: Record<SecurityChange, string> = {
  totp_added: 'an authenticator app now gives the second step of signing in to your inkgate account.',
  totp_removed:
    'the authenticator app no longer gives the second step of signing in to your inkgate account.',
  passkey_added: 'a new passkey can now sign in to your inkgate account.',
  passkey_removed: 'a passkey was removed from your inkgate account and can no longer sign in.',
  recovery_code_used:
    'one of your recovery codes was just used to sign in to your inkgate account; it cannot be used again. Renew your codes when few are left.',
  recovery_codes_renewed:
    'a new set of recovery codes was made for your inkgate account; the old codes no longer work.',
  mfa_reset:
    'an administrator removed every second factor (authenticator app, passkeys, recovery codes) from your inkgate account, and every session was logged out. Sign in with your password and add a second factor again.',
};

export const messages = {
  verifyEmail: (username: string, url: string, ttlSeconds: number) =>
    message(
      'Confirm your email address',
      [
        `Hello ${username},`,
        `please confirm that this address belongs to your inkgate account. The link works once, for ${minutes(ttlSeconds)}.`,
        'If you did not ask for this, ignore this message: nothing changes.',
      ],
      { url, label: 'Confirm this address' },
    ),

  signupAttempt: (username: string) =>
    message('Someone tried to sign up with your address', [
      `Hello ${username},`,
      'someone just tried to create a new inkgate account with this email address, which already belongs to your account. No account was created.',
      'If it was you: log in as usual, or ask for a password reset if you forgot your password. If it was not you, nothing needs doing.',
    ]),

  resetPassword: (username: string, url: string, ttlSeconds: number) =>
    message(
      'Reset your password',
      [
        `Hello ${username},`,
        `someone (we hope you) asked to reset the password of your inkgate account. The link works once, for ${minutes(ttlSeconds)}; setting a new password logs out every session.`,
        'If you did not ask for this, ignore this message: your password stays as it is.',
      ],
      { url, label: 'Choose a new password' },
    ),

  passwordChanged: (username: string, how: 'changed' | 'reset') =>
    message('Your password was changed', [
      `Hello ${username},`,
      how === 'reset'
        ? 'the password of your inkgate account was just reset with a link sent to this address, and every session was logged out.'
        : 'the password of your inkgate account was just changed, and every other session was logged out.',
      'If this was not you, reset your password at once and tell an administrator.',
    ]),

  emailChanged: (username: string, newEmail: string) =>
    message('Your email address was changed', [
      `Hello ${username},`,
      `the email address of your inkgate account was just changed from this one to ${maskEmail(newEmail)}.`,
      'If this was not you, tell an administrator at once: this address no longer receives password resets.',
    ]),

  emailChangeRequested: (username: string, newEmail: string) =>
    message('A new email address was asked for your account', [
      `Hello ${username},`,
      `someone signed in to your inkgate account asked to change its address from this one to ${maskEmail(newEmail)}. It changes only once the link sent there is used; until then this address stays the account's.`,
      'If this was not you, change your password and tell an administrator.',
    ]),

  addressAttempt: (username: string) =>
    message('Someone tried to use your address', [
      `Hello ${username},`,
      'someone just tried to move another inkgate account to this email address, which already belongs to your account. Nothing changed.',
      'If it was you, nothing needs doing. If it was not, nothing needs doing either: your account is as it was.',
    ]),

  securityChanged: (username: string, change: SecurityChange) =>
    message(SECURITY_SUBJECTS[change], [
      `Hello ${username},`,
      SECURITY_TEXTS[change],
      'If this was not you, sign in, change your password and review your sign-in methods at once, and tell an administrator.',
    ]),

  accountDeleted: (username: string) =>
    message('Your account was deleted', [
      `Hello ${username},`,
      'your inkgate account was deleted at your request, with its posts and sessions.',
      'If this was not you, tell an administrator.',
    ]),
};
