/**
 * How a user signed in, as tokens say it: RFC 8176 `amr` methods and inkgate's two `acr` levels
 * (API.md "Multi-factor authentication"). A session keeps what its sign-in used; a refresh keeps it.
 */
export type AuthMethod = 'pwd' | 'otp' | 'hwk' | 'user' | 'mfa';

export const ACR_PASSWORD = 'urn:inkgate:acr:pwd';
export const ACR_MFA = 'urn:inkgate:acr:mfa';
export const ACR_VALUES = [ACR_PASSWORD, ACR_MFA] as const;
export type Acr = (typeof ACR_VALUES)[number];

/** A password alone. */
export const PASSWORD_ONLY: readonly AuthMethod[] = ['pwd'];
/** A password, then a TOTP or a recovery code. */
export const PASSWORD_AND_CODE: readonly AuthMethod[] = ['pwd', 'otp', 'mfa'];
/** A passkey with user verification: a complete sign-in by itself. */
export const PASSKEY: readonly AuthMethod[] = ['hwk', 'user'];
/** A password, then a passkey. */
export const PASSWORD_AND_PASSKEY: readonly AuthMethod[] = ['pwd', 'hwk', 'user', 'mfa'];

const METHODS = new Set<string>(['pwd', 'otp', 'hwk', 'user', 'mfa']);

/** Two factors, or a passkey (possession and user verification in one) are the mfa level. */
export function acrOf(amr: readonly string[]): Acr {
  return amr.includes('mfa') || (amr.includes('hwk') && amr.includes('user')) ? ACR_MFA : ACR_PASSWORD;
}

/** A stored amr (space-separated; null from before second factors: a password) → its methods. */
export function parseAmr(text: string | null | undefined): AuthMethod[] {
  const methods = (text ?? '').split(' ').filter((method) => METHODS.has(method)) as AuthMethod[];
  return methods.length > 0 ? methods : [...PASSWORD_ONLY];
}
