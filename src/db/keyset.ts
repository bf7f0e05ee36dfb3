import type { RawBuilder } from 'kysely';
import type { Cursor } from './cursor.ts';
import { sql } from './kysely.ts';

/**
 * Keyset paging, newest first: rows strictly after `cursor` in (created_at, id) descending order.
 * A row-value comparison, which both SQLite and PostgreSQL evaluate against the (created_at, id) index.
 */
export function olderThan(cursor: Cursor, createdAtColumn: string, idColumn: string): RawBuilder<boolean> {
  return sql<boolean>`(${sql.ref(createdAtColumn)}, ${sql.ref(idColumn)}) < (${cursor.createdAt}, ${cursor.id})`;
}
