import { type TSchema, Type } from 'typebox';
import { UnprocessableError } from './errors.ts';

/** A position in a newest-first list: the (created_at, id) of the last item of the previous page. */
export interface Cursor {
  readonly createdAt: Date;
  readonly id: string;
}

/** A UUID as this API writes them (lower case); the pattern is also what query schemas declare. */
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const UUID = new RegExp(UUID_PATTERN);

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt.toISOString(), cursor.id])).toString('base64url');
}

/** Opaque to clients; anything that is not a cursor we made is a 422 on /cursor (API.md). */
export function decodeCursor(text: string): Cursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2) {
      const [at, id] = value;
      if (typeof at === 'string' && typeof id === 'string' && isUuid(id)) {
        const createdAt = new Date(at);
        if (!Number.isNaN(createdAt.getTime()) && createdAt.toISOString() === at) return { createdAt, id };
      }
    }
  } catch {
    // fall through to the 422
  }
  throw new UnprocessableError([{ path: '/cursor', message: 'is not a cursor returned by this API' }]);
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

/** Given limit + 1 rows, the page and the cursor of the next one. */
export function toPage<R extends { created_at: Date; id: string }>(rows: R[], limit: number) {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  const next_cursor =
    rows.length > limit && last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null;
  return { data, next_cursor };
}
