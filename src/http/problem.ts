import { ERROR_CODES, type ErrorCode } from './error-codes.ts';
import { Type } from './json-schema.ts';

/**
 * Node's reason phrases (`404` → `Not Found`), from node:http's CommonJS exports: an ES import of
 * node:http makes the module's whole namespace, and its WebSocket getter loads undici — about 50 ms
 * of every start, for a table.
 */
export const STATUS_CODES: Readonly<Record<number, string | undefined>> =
  process.getBuiltinModule('node:http').STATUS_CODES;

const CODE_LIST = Object.entries(ERROR_CODES)
  .map(([code, meaning]) => `- \`${code}\`: ${meaning}`)
  .join('\n');

/** RFC 9457 problem details, the body of every error outside the OAuth2 endpoints. */
export const Problem = Type.Object(
  {
    type: Type.String({ examples: ['about:blank'] }),
    title: Type.String({ examples: ['Not Found'] }),
    status: Type.Integer({ examples: [404] }),
    detail: Type.String({ examples: ['post not found'] }),
    code: Type.Unsafe<ErrorCode>({
      type: 'string',
      enum: Object.keys(ERROR_CODES),
      examples: ['post_not_found'],
      description: `Stable and machine-readable (RFC 9457 §3.2 extension member); \`detail\` is for people.\n${CODE_LIST}`,
    }),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          path: Type.String({
            description: 'JSON Pointer (RFC 6901) to the offending field',
            examples: ['/title'],
          }),
          message: Type.String({ examples: ['must NOT have fewer than 1 characters'] }),
        }),
      ),
    ),
  },
  { $id: 'Problem', description: 'RFC 9457 problem document (application/problem+json)' },
);

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: Array<{ path: string; message: string }>;
}

export function toProblem(
  status: number,
  code: ErrorCode,
  detail: string,
  errors?: ProblemBody['errors'],
): ProblemBody {
  const body: ProblemBody = {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code,
  };
  if (errors) body.errors = errors;
  return body;
}

/** The code each documented status's example carries. */
const EXAMPLE_CODES: Record<number, ErrorCode> = {
  400: 'invalid_json',
  401: 'invalid_token',
  403: 'insufficient_scope',
  404: 'route_not_found',
  409: 'email_taken',
  412: 'precondition_failed',
  413: 'body_too_large',
  415: 'unsupported_media_type',
  422: 'validation_failed',
  429: 'rate_limited',
  503: 'unavailable',
};

const DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed request (bad JSON)',
  401: 'Missing, invalid, expired or revoked access token (RFC 6750); see WWW-Authenticate',
  403: 'Authenticated, but not allowed: missing scope (see WWW-Authenticate) or not the owner',
  404: 'Not found',
  409: 'Conflict with existing data',
  412: 'If-Match does not name the current version (ETag); nothing changed',
  413: 'Body larger than 64 KiB',
  415: 'Unsupported Content-Type',
  422: 'Validation failed: one entry in errors per offending field',
  503: 'Database unavailable; retry after Retry-After seconds',
};

/** What each status's example says in the OpenAPI document (Swagger UI shows it under the route). */
const EXAMPLE_DETAILS: Record<number, string> = {
  400: 'the body is not valid JSON',
  401: 'the access token is invalid, expired or revoked',
  403: 'this request needs the scope: admin',
  404: 'not found',
  409: 'that email address is taken',
  412: 'the post has changed since the ETag you sent; read it again',
  413: 'the body is larger than 64 KiB',
  415: 'this Content-Type is not accepted here; send application/json',
  422: 'the request has invalid fields',
  429: 'too many requests; try again in 60 s',
  503: 'the database is unavailable; try again shortly',
};

/** Response entries for the OpenAPI document: problem+json for each listed status, with its own example. */
export function problemResponses(...statuses: number[]): Record<number, unknown> {
  const responses: Record<number, unknown> = {};
  for (const status of statuses) {
    const example = toProblem(
      status,
      EXAMPLE_CODES[status] ?? 'bad_request',
      EXAMPLE_DETAILS[status] ?? STATUS_CODES[status] ?? 'error',
      status === 422 ? [{ path: '/title', message: 'must NOT have fewer than 1 characters' }] : undefined,
    );
    responses[status] = {
      description: DESCRIPTIONS[status] ?? STATUS_CODES[status],
      content: { 'application/problem+json': { schema: { $ref: 'Problem#' }, example } },
    };
  }
  return responses;
}
