import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDeferredSchemas } from '../../src/http/deferred-schemas.ts';
import { createValidatorCompiler } from '../../src/http/validation.ts';
import { buildTestApp } from '../helpers/app.ts';

test('every route schema of the whole app (the RealWorld API mounted) compiles', async (t) => {
  // Schemas compile on first use; this finds one that cannot before any request would.
  const { app } = await buildTestApp(t, { env: { REALWORLD_API: 'on', COMMENTS: 'moderated' } });
  await app.compileSchemas();
});

test('a deferred validator compiles once, on its first call, and reports its errors as ajv does', () => {
  const schemas = createDeferredSchemas();
  let compiles = 0;
  const compiler = createValidatorCompiler();
  const validator = schemas.validator((route) => {
    compiles += 1;
    return compiler(route);
  });
  const validate = validator({
    schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
    method: 'POST',
    url: '/',
    httpPart: 'body',
  }) as ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string }> | null };
  assert.equal(compiles, 0);
  assert.equal(schemas.pending, 1);
  assert.equal(validate({ n: 'one' }), false);
  assert.equal(validate.errors?.[0]?.instancePath, '/n');
  assert.equal(validate({ n: 1 }), true);
  assert.equal(validate.errors, null);
  assert.equal(compiles, 1);
  assert.equal(schemas.pending, 0);
});

test('compilePending throws the error of a schema that cannot compile', async () => {
  const schemas = createDeferredSchemas();
  const serializer = schemas.buildSerializer({}, {});
  serializer({ schema: { $ref: 'Missing#' }, method: 'GET', url: '/', httpStatus: '200' });
  const good = serializer({ schema: { type: 'object', properties: { a: { type: 'string' } } } });
  assert.equal(schemas.pending, 2);
  await assert.rejects(schemas.compilePending(), /Missing/);
  // The good one still serialises by its schema (fields it does not name are left out).
  assert.equal(good({ a: 'x', secret: 'y' }), '{"a":"x"}');
});
