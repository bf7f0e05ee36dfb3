import type { Static, TSchema } from 'typebox';
import { Type } from './json-schema.ts';

/**
 * A reference to a schema added with app.addSchema (by its $id), typed as that schema. Fastify's
 * serializer resolves `Id#`, and @fastify/swagger turns it into `#/components/schemas/Id`.
 */
export function ref<T extends TSchema>(schema: T, description?: string) {
  const id = (schema as { $id?: unknown }).$id;
  if (typeof id !== 'string') throw new Error('ref() needs a schema with an $id');
  return Type.Unsafe<Static<T>>(description ? { $ref: `${id}#`, description } : { $ref: `${id}#` });
}
