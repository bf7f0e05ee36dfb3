import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Type as TypeBox } from 'typebox';
import { Type } from '../../src/http/json-schema.ts';
import { createValidatorCompiler } from '../../src/http/validation.ts';

/** What a schema says as JSON: TypeBox's run-time bookkeeping ('~kind') is not enumerable. */
const json = (schema: unknown) => JSON.parse(JSON.stringify(schema)) as unknown;

// Each case builds one schema with both: ours must say exactly what TypeBox's says.
const cases: Array<[string, (T: typeof Type | typeof TypeBox) => unknown]> = [
  ['String with bounds', (T) => T.String({ minLength: 1, maxLength: 10, pattern: '^a' })],
  ['Integer, Boolean, Null', (T) => [T.Integer({ minimum: 0 }), T.Boolean(), T.Null({ description: 'n' })]],
  ['Unknown', (T) => [T.Unknown(), T.Unknown({ description: 'anything' })]],
  ['Literals', (T) => [T.Literal('a'), T.Literal(3, { description: 'x' }), T.Literal(true)]],
  ['Array', (T) => T.Array(T.String(), { maxItems: 3 })],
  ['Union', (T) => T.Union([T.String(), T.Null()], { description: 'u' })],
  ['Unsafe', (T) => T.Unsafe({ $ref: 'Post#', description: 'd' })],
  [
    'Object: required from the keys not optional',
    (T) => T.Object({ a: T.String(), b: T.Optional(T.Integer()) }),
  ],
  ['Object: all optional, no required', (T) => T.Object({ b: T.Optional(T.Integer()) })],
  ['Object: empty', (T) => T.Object({})],
  ['Object with options', (T) => T.Object({ a: T.String() }, { $id: 'X', additionalProperties: false })],
  [
    'one schema optional in one place, required in another',
    (T) => {
      const shared = T.Object({ a: T.String() });
      return T.Object({ x: shared, y: T.Optional(shared), z: T.Object({ again: shared }) });
    },
  ],
  ['Record', (T) => T.Record(T.String(), T.Unknown(), { description: 'd' })],
];

describe('the JSON Schema builders (src/http/json-schema.ts) against TypeBox', () => {
  for (const [name, build] of cases) {
    test(name, () => {
      assert.deepEqual(json(build(Type)), json(build(TypeBox)));
    });
  }

  test('Omit: the keys and their required entries go; TypeBox drops the other keywords, ours keeps them', () => {
    const build = (T: typeof Type | typeof TypeBox) =>
      T.Omit(
        T.Object(
          { a: T.String(), b: T.Optional(T.String()), c: T.Integer() },
          { additionalProperties: false },
        ),
        ['a', 'b'],
      );
    assert.deepEqual(json(build(Type)), {
      type: 'object',
      required: ['c'],
      properties: { c: { type: 'integer' } },
      additionalProperties: false,
    });
    const { additionalProperties: _kept, ...rest } = json(build(Type)) as Record<string, unknown>;
    assert.deepEqual(rest, json(build(TypeBox)));
  });

  test('an optional property may be left out; a required one may not (validated by ajv as the routes are)', () => {
    const schema = Type.Object(
      { a: Type.String(), b: Type.Optional(Type.String()) },
      { additionalProperties: false },
    );
    const validate = createValidatorCompiler()({ schema, httpPart: 'body', method: 'POST', url: '/x' }) as (
      value: unknown,
    ) => boolean;
    assert.equal(validate({ a: 'x' }), true);
    assert.equal(validate({ a: 'x', b: 'y' }), true);
    assert.equal(validate({ b: 'y' }), false);
    assert.equal(validate({ a: 'x', c: 1 }), false);
  });

  test('a Record keyed by anything but a plain string, or an Omit of a non-object, is refused at once', () => {
    assert.throws(() => Type.Record(Type.Integer(), Type.String()), /only a plain Type\.String\(\) key/);
    assert.throws(() => Type.Record(Type.String({ pattern: '^a' }), Type.String()), /only a plain/);
    assert.throws(() => Type.Omit(Type.String(), ['a']), /an object schema/);
  });
});
