import type { TSchema } from 'typebox';
import { type Cursor, parseCursor } from '../db/cursor.ts';
import { UnprocessableError } from './errors.ts';
import { Type } from './json-schema.ts';

/** A `?cursor=` parameter: anything that is not a cursor we made is a 422 on /cursor (API.md). */
export function decodeCursor(text: string): Cursor {
  const cursor = parseCursor(text);
  if (cursor === undefined) {
    throw new UnprocessableError([{ path: '/cursor', message: 'is not a cursor returned by this API' }]);
  }
  return cursor;
}

export const PageQuery = {
  limit: Type.Optional(
    Type.Integer({ format: 'int32', minimum: 1, maximum: 100, default: 20, description: 'items per page' }),
  ),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'next_cursor of the previous page' })),
};

export function Page<T extends TSchema>(item: T, description: string) {
  return Type.Object(
    {
      data: Type.Array(item),
      next_cursor: Type.Union([Type.String(), Type.Null()], {
        description: 'pass as ?cursor= for the next page; null on the last',
      }),
    },
    { description },
  );
}
