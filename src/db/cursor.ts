import { isUuid } from './ids.ts';

/** A position in a newest-first list: the (created_at, id) of the last item of the previous page. */
export interface Cursor {
  readonly createdAt: Date;
  readonly id: string;
}

/** Opaque to clients: base64url of the position. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt.toISOString(), cursor.id])).toString('base64url');
}

/** The position a cursor of ours names; undefined for anything else (the HTTP layer answers 422). */
export function parseCursor(text: string): Cursor | undefined {
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
    // not ours
  }
  return undefined;
}

/** Given limit + 1 rows, the page and the cursor of the next one. */
export function toPage<R extends { created_at: Date; id: string }>(rows: R[], limit: number) {
  return toPageBy(rows, limit, (row) => row.created_at);
}

/** The same, for a list ordered by another time than created_at (`at` of each row), then id. */
export function toPageBy<R extends { id: string }>(rows: R[], limit: number, at: (row: R) => Date) {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  const next_cursor = rows.length > limit && last ? encodeCursor({ createdAt: at(last), id: last.id }) : null;
  return { data, next_cursor };
}
