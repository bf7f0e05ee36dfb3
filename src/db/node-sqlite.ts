import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * node:sqlite's DatabaseSync seen through the better-sqlite3 shape that Kysely's SqliteDialect drives.
 *
 * SQLite has no date or boolean type, so the migrations declare such columns `timestamptz` and
 * `boolean` (as on PostgreSQL) and this adapter converts at the boundary: Dates are written as
 * fixed-width ISO 8601 text (which sorts as time does) and read back as Dates; booleans as 0/1.
 * A statement is a reader when it has result columns (SELECT, and INSERT … RETURNING too).
 */
type Convert = (value: unknown) => unknown;

const toDate: Convert = (value) => (typeof value === 'string' ? new Date(value) : value);
const toBoolean: Convert = (value) => (value === null ? null : Boolean(value));

function toParameter(value: unknown): SQLInputValue {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value as SQLInputValue;
}

function wrapStatement(statement: StatementSync): SqliteStatement {
  const columns = statement.columns();
  const converters: Array<[string, Convert]> = [];
  for (const column of columns) {
    const declared = column.type?.toLowerCase();
    if (declared === 'timestamptz') converters.push([column.name, toDate]);
    else if (declared === 'boolean') converters.push([column.name, toBoolean]);
  }
  const convertRow = (row: unknown): unknown => {
    const record = row as Record<string, unknown>;
    for (const [name, convert] of converters) record[name] = convert(record[name]);
    return record;
  };
  const bind = (parameters: ReadonlyArray<unknown>) => parameters.map(toParameter);
  return {
    reader: columns.length > 0,
    all: (parameters) => {
      const rows = statement.all(...bind(parameters));
      return converters.length > 0 ? rows.map(convertRow) : rows;
    },
    run: (parameters) => statement.run(...bind(parameters)),
    *iterate(parameters) {
      for (const row of statement.iterate(...bind(parameters))) yield convertRow(row);
    },
  };
}

/** Prepared statements are kept (Kysely compiles the same SQL text for the same query shape). */
export function adaptNodeSqlite(database: DatabaseSync, cacheSize = 500): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      cache.clear();
      database.close();
    },
    prepare: (sql) => {
      let statement = cache.get(sql);
      if (!statement) {
        statement = wrapStatement(database.prepare(sql));
        // DDL changes what a cached statement means; only cache the statements that read or write rows.
        if (/^\s*(select|insert|update|delete|with)\b/i.test(sql)) {
          if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
          cache.set(sql, statement);
        }
      }
      return statement;
    },
  };
}
