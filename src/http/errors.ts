import type { ErrorCode } from './error-codes.ts';

/**
 * The errors services throw. One handler (error-handler.ts) renders them as RFC 9457 problem documents;
 * `code` is stable and machine-readable (the problem's `code` member, one of ERROR_CODES), `detail` is
 * for people, `cause` only ever reaches the log.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly headers: Readonly<Record<string, string>>;
  constructor(
    status: number,
    code: ErrorCode,
    detail: string,
    options: { cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(detail, { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
  }
}

export class NotFoundError extends HttpError {
  constructor(detail: string, code: ErrorCode) {
    super(404, code, detail);
  }
}

export class ConflictError extends HttpError {
  constructor(detail: string, code: ErrorCode) {
    super(409, code, detail);
  }
}

export class ForbiddenError extends HttpError {
  constructor(detail: string, code: ErrorCode, headers?: Record<string, string>) {
    super(403, code, detail, { headers });
  }
}

export class UnprocessableError extends HttpError {
  readonly errors: ReadonlyArray<{ path: string; message: string }>;
  constructor(errors: ReadonlyArray<{ path: string; message: string }>) {
    super(422, 'validation_failed', 'the request has invalid fields');
    this.errors = errors;
  }
}

export class ServiceUnavailableError extends HttpError {
  constructor(detail: string, retryAfterSeconds = 5, options: { cause?: unknown } = {}) {
    super(503, 'unavailable', detail, { ...options, headers: { 'retry-after': String(retryAfterSeconds) } });
  }
}
