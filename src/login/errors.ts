/** One answer for an unknown login, a wrong password and a disabled account: no user enumeration. */
const BAD_CREDENTIALS = 'invalid username or password';

/**
 * A login refused by the login rules, whatever door it came through: each door words it in its own
 * protocol (`/token` as an RFC 6749 §5.2 error, a login page as a message on the page).
 */
export class LoginRefusedError extends Error {
  /** `slow_down`: throttled or over a limit, try again after `retryAfterSeconds`; else bad credentials. */
  readonly reason: 'bad_credentials' | 'slow_down';
  readonly retryAfterSeconds: number | undefined;
  private constructor(reason: LoginRefusedError['reason'], message: string, retryAfterSeconds?: number) {
    super(message);
    this.name = 'LoginRefusedError';
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
  }
  static badCredentials(): LoginRefusedError {
    return new LoginRefusedError('bad_credentials', BAD_CREDENTIALS);
  }
  static slowDown(retryAfterSeconds: number, message: string): LoginRefusedError {
    return new LoginRefusedError('slow_down', message, retryAfterSeconds);
  }
}
