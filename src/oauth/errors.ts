import { Type } from '../http/json-schema.ts';

/** RFC 6749 §5.2 error codes, and RFC 8628's slow_down for throttled logins (API.md). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_grant'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_client'
  | 'unauthorized_client'
  | 'slow_down';

/** The one error that is not a problem document: what the token endpoint answers (RFC 6749 §5.2). */
export class OAuthError extends Error {
  readonly status: number;
  readonly error: OAuthErrorCode;
  readonly headers: Readonly<Record<string, string>>;
  constructor(
    error: OAuthErrorCode,
    description: string,
    options: { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(description);
    this.name = 'OAuthError';
    this.error = error;
    this.status = options.status ?? 400;
    this.headers = options.headers ?? {};
  }
}

export const OAuthErrorBody = Type.Object(
  {
    error: Type.String({ examples: ['invalid_grant'] }),
    error_description: Type.String({ examples: ['invalid username or password'] }),
  },
  { $id: 'OAuthError', description: 'RFC 6749 §5.2 error response' },
);
