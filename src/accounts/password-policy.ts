import { lazyModule } from '../lazy-module.ts';
import { normalizePassword } from './passwords.ts';

// Its dictionaries (half a megabyte of source) load with the first password checked, not at start.
const zxcvbnCommon = lazyModule<typeof import('@zxcvbn-ts/language-common')>('@zxcvbn-ts/language-common');

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 1024;

/**
 * The ~49,000 most common passwords from zxcvbn-ts's offline list (lower-case), built once on first use.
 * NIST SP 800-63B §3.1.1.2: check new passwords against known-breached and commonly used values.
 */
let common: Set<string> | undefined;
function commonPasswords(): Set<string> {
  common ??= new Set(zxcvbnCommon().dictionary['passwords-common']);
  return common;
}

/** Why a new password is refused, or undefined when it is acceptable. Length counts Unicode code points. */
export function passwordProblem(
  password: string,
  context: { username?: string; email?: string },
): string | undefined {
  const normalized = normalizePassword(password);
  const length = [...normalized].length;
  if (length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters`;
  if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters`;
  const lower = normalized.toLowerCase();
  if (context.username !== undefined && lower === context.username.toLowerCase())
    return 'must not be the username';
  if (context.email !== undefined && lower === context.email.toLowerCase())
    return 'must not be the email address';
  if (commonPasswords().has(lower)) return 'is one of the most commonly used passwords';
  return undefined;
}
