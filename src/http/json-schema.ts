import type { Type as TypeBox } from 'typebox';

/**
 * The JSON Schema builders the routes use, with TypeBox's own signatures (so `Static` and the
 * Fastify type provider infer the request and answer types as before) and none of its code at run
 * time: TypeBox's runtime is 373 modules (its type engine, evaluator and script parser), about a
 * seventh of a start, for what is here a dozen object literals. Each builder makes the same schema
 * TypeBox makes (test/unit/json-schema.test.ts builds both), except `Omit`, which keeps the
 * object's other keywords (`additionalProperties`) where TypeBox drops them.
 */
type Builders = typeof TypeBox;

/** Schemas made by `Type.Optional`: the object holding one leaves its key out of `required`. */
const optionals = new WeakSet<object>();

interface ObjectSchema {
  type: 'object';
  required?: string[];
  properties: Record<string, object>;
}

function isObjectSchema(schema: unknown): schema is ObjectSchema {
  return (
    typeof schema === 'object' &&
    schema !== null &&
    (schema as { type?: unknown }).type === 'object' &&
    typeof (schema as { properties?: unknown }).properties === 'object'
  );
}

export const Type = {
  String: ((options) => ({ type: 'string', ...options })) as Builders['String'],
  Integer: ((options) => ({ type: 'integer', ...options })) as Builders['Integer'],
  Boolean: ((options) => ({ type: 'boolean', ...options })) as Builders['Boolean'],
  Null: ((options) => ({ type: 'null', ...options })) as Builders['Null'],
  // TypeBox's own types for these three also name its run-time bookkeeping ('~kind'), which no
  // schema here needs: the plain schema is cast through unknown.
  Unknown: ((options?: object) => ({ ...options })) as unknown as Builders['Unknown'],
  Literal: ((value, options) => ({ type: typeof value, const: value, ...options })) as Builders['Literal'],
  Array: ((items, options) => ({ type: 'array', items, ...options })) as Builders['Array'],
  Union: ((anyOf, options) => ({ anyOf, ...options })) as Builders['Union'],
  /** A schema written by hand (a `$ref`, an empty body), typed as the caller says. */
  Unsafe: ((schema) => ({ ...schema })) as Builders['Unsafe'],
  /** A copy marked optional; the schema given stays required wherever else it is used. */
  Optional: ((schema) => {
    const copy = { ...schema };
    optionals.add(copy);
    return copy;
  }) as Builders['Optional'],
  Object: ((properties, options) => {
    const required = Object.keys(properties).filter((key) => !optionals.has(properties[key]!));
    return { type: 'object', ...(required.length > 0 && { required }), properties, ...options };
  }) as Builders['Object'],
  /** Any property names (a string key only): every value matching `value`. */
  Record: ((key: object, value: object, options?: object) => {
    const { type, ...rest } = key as { type?: unknown };
    if (type !== 'string' || Object.keys(rest).length > 0) {
      throw new TypeError('Type.Record: only a plain Type.String() key is supported');
    }
    return { type: 'object', patternProperties: { '^.*$': value }, ...options };
  }) as unknown as Builders['Record'],
  /** The object without the keys named; its other keywords kept. */
  Omit: ((schema: unknown, keys: readonly PropertyKey[]) => {
    if (!isObjectSchema(schema) || !Array.isArray(keys)) {
      throw new TypeError('Type.Omit: an object schema and a list of keys');
    }
    const { type: _type, required = [], properties, ...rest } = schema;
    const kept = Object.fromEntries(Object.entries(properties).filter(([key]) => !keys.includes(key)));
    const stillRequired = required.filter((key) => !keys.includes(key));
    return {
      type: 'object',
      ...(stillRequired.length > 0 && { required: stillRequired }),
      properties: kept,
      ...rest,
    };
  }) as unknown as Builders['Omit'],
};
