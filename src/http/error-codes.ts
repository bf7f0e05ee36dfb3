/**
 * Every `code` a problem document can carry (RFC 9457 §3.2 extension member): stable, snake_case,
 * for clients to tell problems apart; `detail` is for people and may change. The OpenAPI document
 * lists these with their meaning, and HttpError takes only these, so no code is made up in passing.
 */
export const ERROR_CODES = {
  // Authentication and authorization (RFC 6750 §3)
  unauthenticated: 'no credentials, or credentials of a scheme other than Bearer',
  invalid_token: 'the access token is malformed, expired, revoked or not ours',
  insufficient_scope: 'the token lacks a scope the route needs (named in WWW-Authenticate)',
  insufficient_user_authentication:
    'RFC 9470: this account has a second factor and the route needs a recent two-factor sign-in (acr_values and max_age in WWW-Authenticate)',
  wrong_password: 'the current password given with the request is wrong',
  reauthentication_required: 'this change needs a password sign-in of the last five minutes; sign in again',
  not_author: 'only the author of the post or an admin may change it',
  not_comment_author:
    'only the comment’s author may change its body; its post’s author or an admin its status',
  comments_off: 'the server takes no new comments (COMMENTS=off)',
  personal_token_refused:
    'a personal access token is made with a first-party sign-in, not with another personal token or a third-party app’s token',
  // Limits
  rate_limited: 'a route limit is reached; see Retry-After and RateLimit',
  too_many_attempts: 'too many wrong passwords from this session; see Retry-After',
  slow_down: 'this address or account holds its share of the password-check queue; see Retry-After',
  // Input
  validation_failed: 'one or more fields are invalid; `errors` lists them',
  invalid_json: 'the body is not valid JSON',
  invalid_utf8: 'the body is not valid UTF-8 (RFC 8259 §8.1)',
  empty_body: 'Content-Type says JSON but the body is empty',
  body_too_large: 'the body is larger than 64 KiB',
  unsupported_media_type: 'the Content-Type is not accepted by this route',
  bad_request: 'the request is malformed (a Content-Length that does not match, a bad URL path)',
  uri_too_long: 'a path segment is longer than 200 characters',
  header_overflow: 'the request headers are too large',
  request_timeout: 'the request did not arrive within REQUEST_TIMEOUT',
  invalid_link: 'the link is invalid, expired or already used',
  // Not found
  route_not_found: 'no route matches this method and path',
  user_not_found: 'no such user',
  post_not_found: 'no such post, or not one the caller may see',
  comment_not_found: 'no such comment, or not one the caller may see',
  author_not_found: 'no such author',
  session_not_found: 'not one of the caller’s live sessions',
  client_not_found: 'no such OAuth client',
  authorization_not_found: 'the caller has neither consented to this client nor a session of it',
  personal_token_not_found: 'not one of the caller’s live personal access tokens',
  mfa_factor_not_found: 'the account has no such second factor',
  passkey_not_found: 'not one of the caller’s passkeys',
  // Conflicts
  slug_taken: 'another post has (or had) this slug',
  precondition_failed: 'If-Match names another version of the post than the current one; read it again',
  username_taken: 'the username is taken (compared case-insensitively)',
  email_taken: 'the email address is taken',
  last_admin: 'the change would leave no enabled admin',
  client_managed_by_settings:
    'the first-party client is defined by CLIENT_ID and FIRST_PARTY_REDIRECT_URIS, not by the API',
  client_is_public: 'a public client has no secret to rotate',
  mfa_totp_enrolled: 'an authenticator app is already set up; remove it first',
  mfa_totp_not_pending: 'no authenticator app is waiting for its first code',
  passkey_limit: 'the account holds as many passkeys as one account may',
  passkey_registered: 'this passkey is registered already',
  mfa_not_enrolled: 'the account has no second factor (recovery codes come with one)',
  personal_token_limit: 'the caller has as many live personal access tokens as one account may hold',
  // The server
  unavailable: 'the database, or a bounded queue, cannot take the request now; see Retry-After',
  shutting_down: 'this instance is stopping; try again (another instance will answer)',
  internal_error: 'an unexpected error; it has been logged with the request id',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
