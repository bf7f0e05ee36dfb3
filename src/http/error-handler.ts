import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isConnectionError } from '../db/errors.ts';
import type { ErrorCode } from './error-codes.ts';
import { HttpError, UnprocessableError } from './errors.ts';
import { PROBLEM_CONTENT_TYPE, STATUS_CODES, toProblem } from './problem.ts';
import { toFieldErrors } from './validation.ts';

/** Fastify's own client errors, kept at their status with a plain detail (never the internal message). */
const FASTIFY_DETAILS: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    'unsupported_media_type',
    'this Content-Type is not accepted here; send application/json',
  ],
  FST_ERR_CTP_BODY_TOO_LARGE: ['body_too_large', 'the request body is larger than 64 KiB'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [
    'empty_body',
    'the request body is empty but Content-Type says application/json',
  ],
  FST_ERR_CTP_INVALID_JSON_BODY: ['invalid_json', 'the request body is not valid JSON'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['bad_request', 'Content-Length does not match the body'],
  FST_ERR_BAD_URL: ['bad_request', 'the URL is malformed'],
};

export interface ErrorAnswer {
  status: number;
  code: ErrorCode;
  headers: Record<string, string>;
  detail: string;
  errors?: Array<{ path: string; message: string }>;
}

/** Any thrown value → the status, headers and detail to answer with. Unknown errors are 500s. */
export function classifyError(error: unknown): ErrorAnswer {
  if (error instanceof UnprocessableError) {
    return { status: 422, code: error.code, headers: {}, detail: error.message, errors: [...error.errors] };
  }
  if (error instanceof HttpError)
    return { status: error.status, code: error.code, headers: { ...error.headers }, detail: error.message };
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation) {
    return {
      status: 422,
      code: 'validation_failed',
      headers: {},
      // validationContext is body, querystring, params or headers.
      detail: `the request ${fastifyError.validationContext ?? 'input'} has invalid fields`,
      errors: toFieldErrors(fastifyError.validation),
    };
  }
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const [code, detail]: [ErrorCode, string] =
      (fastifyError.code ? FASTIFY_DETAILS[fastifyError.code] : undefined) ??
      (error instanceof SyntaxError
        ? FASTIFY_DETAILS.FST_ERR_CTP_INVALID_JSON_BODY!
        : ['bad_request', 'the request was not accepted']);
    return { status, code, headers: {}, detail };
  }
  // After the 4xx branch: a client that aborts mid-body is ECONNRESET too, with Fastify's 400 on it.
  if (isConnectionError(error)) {
    return {
      status: 503,
      code: 'unavailable',
      headers: { 'retry-after': '5' },
      detail: 'the database is unavailable; try again shortly',
    };
  }
  return {
    status: 500,
    code: 'internal_error',
    headers: {},
    detail: 'an unexpected error occurred; it has been logged',
  };
}

function logAnswer(request: FastifyRequest, error: unknown, status: number) {
  if (status >= 500) {
    // A cause for the operator (KeyEncryptionError's reason, say) goes in the line itself.
    const reason = (error as { reason?: unknown }).reason;
    request.log.error({ err: error, ...(typeof reason === 'string' && { reason }) }, 'request failed');
  }
  // A refusal's cause (why a token failed, say) is for debugging: serialising its stack on every
  // refused request would make rejections the expensive path an attacker can choose.
  else if (error instanceof HttpError && error.cause)
    request.log.debug({ err: error.cause, code: error.code }, error.message);
}

/**
 * The problem documents of refusals thrown again as the same object (the guard makes one 401 per
 * refused token and throws it each time the token comes back): serialised once, not per request.
 */
const serialised = new WeakMap<HttpError, string>();

/** One place turns every error into an RFC 9457 problem document; 500s are logged, never detailed. */
export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const body = error instanceof HttpError ? serialised.get(error) : undefined;
    if (error instanceof HttpError && body !== undefined) {
      logAnswer(request, error, error.status);
      return reply.code(error.status).headers(error.headers).type(PROBLEM_CONTENT_TYPE).send(body);
    }
    const answer = classifyError(error);
    logAnswer(request, error, answer.status);
    const problem = toProblem(answer.status, answer.code, answer.detail, answer.errors);
    if (error instanceof HttpError && answer.errors === undefined) {
      const text = JSON.stringify(problem);
      serialised.set(error, text);
      return reply.code(answer.status).headers(answer.headers).type(PROBLEM_CONTENT_TYPE).send(text);
    }
    return reply.code(answer.status).headers(answer.headers).type(PROBLEM_CONTENT_TYPE).send(problem);
  });

  app.setNotFoundHandler((_request, reply) =>
    reply
      .code(404)
      .type(PROBLEM_CONTENT_TYPE)
      .send(toProblem(404, 'route_not_found', 'no route matches this method and path')),
  );
}

const CLIENT_ERRORS: Record<string, [number, ErrorCode, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'the request did not arrive in time'],
  HPE_HEADER_OVERFLOW: [431, 'header_overflow', 'the request headers are too large'],
};

/**
 * Errors Node raises before a request reaches Fastify (a body or headers that did not arrive in
 * time, oversized headers, bytes that are not HTTP): one log line without a stack, a problem
 * document when the socket can still take one, and the socket closed.
 */
export function clientErrorHandler(headers: Readonly<Record<string, string>>) {
  const securityLines = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return function answerClientError(
    this: FastifyInstance,
    error: Error & { code?: string },
    socket: Duplex,
  ): void {
    const [status, reason, detail] = CLIENT_ERRORS[error.code ?? ''] ?? [
      400,
      'bad_request',
      'the request is not valid HTTP',
    ];
    if (error.code !== 'ECONNRESET' && !socket.destroyed) {
      const remote = (socket as Duplex & { remoteAddress?: string }).remoteAddress;
      const requestId = randomUUID();
      this.log.info(
        { event: 'request_aborted', reason, code: error.code, address: remote, reqId: requestId },
        'request aborted',
      );
      if (socket.writable) {
        const body = JSON.stringify(toProblem(status, reason, detail));
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${securityLines}x-request-id: ${requestId}\r\n` +
            `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
            `Connection: close\r\n\r\n${body}`,
        );
      }
    }
    socket.destroy();
  };
}

/**
 * Errors Fastify answers before any route or hook runs (a path parameter over maxParamLength: 414, a
 * path that is not a valid URL component: 400): a problem document with the usual headers, never
 * Fastify's own body, which echoes the URL.
 */
export function frameworkErrorHandler(headers: Readonly<Record<string, string>>) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : (error.statusCode ?? 400);
    const [code, detail]: [ErrorCode, string] =
      status === 414
        ? ['uri_too_long', 'a path segment is longer than 200 characters']
        : status < 500
          ? ['bad_request', 'the request path is not valid']
          : ['internal_error', 'an unexpected error occurred; it has been logged'];
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    void reply
      .code(status)
      .headers(headers)
      .header('x-request-id', request.id)
      .type(PROBLEM_CONTENT_TYPE)
      .send(toProblem(status, code, detail));
  };
}
