import type { Role } from './roles.ts';

/** Whether an account has a second factor (a confirmed TOTP or a passkey), from its users row. */
export function hasSecondFactor(account: { mfa_totp: boolean; mfa_passkeys: number }): boolean {
  return account.mfa_totp || Number(account.mfa_passkeys) > 0;
}

/** MFA_REQUIRED: whether a user of `role` must have a second factor. */
export function mfaRequiredFor(setting: 'off' | 'admin' | 'all', role: Role): boolean {
  return setting === 'all' || (setting === 'admin' && role === 'admin');
}
