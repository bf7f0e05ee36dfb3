import type { Role } from './roles.ts';

/** Every scope an access token can carry (RFC 6749 §3.3). */
export const SCOPES = ['profile', 'posts:write', 'comments:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  profile: 'Read and change your own account',
  'posts:write': 'Create, change and delete your own posts; favourite posts and follow authors',
  'comments:write': 'Write, change and delete your own comments',
  admin: 'Manage users and any post',
};

const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  user: ['profile', 'posts:write', 'comments:write'],
  admin: ['profile', 'posts:write', 'comments:write', 'admin'],
};

export function scopesForRole(role: Role): readonly Scope[] {
  return ROLE_SCOPES[role];
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/**
 * A `scope` parameter → the distinct scopes it names, or undefined when it names none
 * (absent or empty: Swagger UI sends `scope=` when no box is ticked). Throws on an unknown scope.
 */
export function parseScopeParameter(text: string | undefined): Scope[] | undefined {
  const names = (text ?? '').split(' ').filter(Boolean);
  if (names.length === 0) return undefined;
  const unknown = names.filter((name) => !isScope(name));
  if (unknown.length > 0) throw new UnknownScopeError(unknown);
  return [...new Set(names as Scope[])];
}

export class UnknownScopeError extends Error {
  readonly scopes: readonly string[];
  constructor(scopes: readonly string[]) {
    super(`unknown scope: ${scopes.join(' ')}`);
    this.scopes = scopes;
  }
}

/** The requested scopes, in canonical order, if `allowed` holds each of them; else undefined. */
export function narrowScopes(allowed: readonly Scope[], requested: readonly Scope[]): Scope[] | undefined {
  return requested.every((scope) => allowed.includes(scope))
    ? SCOPES.filter((s) => requested.includes(s))
    : undefined;
}

/** The scopes a token gets at login: all the role allows, or the requested ones if the role allows each. */
export function grantScopes(role: Role, requested: readonly Scope[] | undefined): Scope[] | undefined {
  const allowed = scopesForRole(role);
  return requested === undefined ? [...allowed] : narrowScopes(allowed, requested);
}

/**
 * EMAIL_VERIFICATION=required: until the address is confirmed, an access token carries only
 * `profile` (enough to read the account and ask for a fresh link). The session keeps what was granted,
 * so the first refresh after confirming gives it all back.
 */
export function scopesWhileUnverified(scopes: readonly Scope[]): Scope[] {
  return scopes.filter((scope) => scope === 'profile');
}
