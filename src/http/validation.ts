import { Ajv, type ErrorObject, type Options } from 'ajv';
import formatsPlugin from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS with a default export; under Node's ESM interop it arrives as the module object.
const addFormats = ((formatsPlugin as unknown as { default?: typeof formatsPlugin }).default ??
  formatsPlugin) as unknown as (ajv: Ajv) => Ajv;

/**
 * Two validators: bodies are checked as sent (a number is never turned into a string, an unknown field
 * is never dropped: API.md's 422), while query strings and path parameters, which are text on the
 * wire, are coerced to the declared types. allErrors lists every bad field; the 64 KiB body limit and
 * the bounds on every string and array keep that cheap (fastify/ajv-compiler's warning).
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const common: Options = { allErrors: true, removeAdditional: false, useDefaults: true, strict: false };
  const body = addFormats(new Ajv({ ...common, coerceTypes: false }));
  const text = addFormats(new Ajv({ ...common, coerceTypes: 'array' }));
  return ({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema as object);
}

/** RFC 6901 escaping of one property name. */
const pointerToken = (name: string) => name.replace(/~/g, '~0').replace(/\//g, '~1');

/** ajv errors → one `{path, message}` per offending field, paths as JSON Pointers into the body or query. */
export function toFieldErrors(
  errors: readonly Partial<ErrorObject>[],
): Array<{ path: string; message: string }> {
  const byPath = new Map<string, string>();
  for (const error of errors) {
    const base = error.instancePath ?? '';
    const params = (error.params ?? {}) as Record<string, unknown>;
    let path = base;
    let message = error.message ?? 'is invalid';
    if (error.keyword === 'required' && typeof params.missingProperty === 'string') {
      path = `${base}/${pointerToken(params.missingProperty)}`;
      message = 'is required';
    } else if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
      path = `${base}/${pointerToken(params.additionalProperty)}`;
      message = 'is not an accepted field';
    } else if (error.keyword === 'pattern' && String(params.pattern).includes('\\u0000')) {
      message = 'must not contain NUL characters';
    }
    if (!byPath.has(path)) byPath.set(path, message);
  }
  return [...byPath].map(([path, message]) => ({ path, message }));
}
