/**
 * A refresh the sessions refuse: `invalid_grant` (not a live refresh token of ours: unknown, expired,
 * revoked, spent) or `invalid_scope` (more than the session was granted). The token endpoint words it
 * as RFC 6749 §5.2 does.
 */
export class RefreshRefusedError extends Error {
  readonly reason: 'invalid_grant' | 'invalid_scope';
  constructor(reason: RefreshRefusedError['reason'], message: string) {
    super(message);
    this.name = 'RefreshRefusedError';
    this.reason = reason;
  }
}
