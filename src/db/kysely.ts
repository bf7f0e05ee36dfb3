import { createRequire } from 'node:module';

type KyselyModule = typeof import('kysely');

/**
 * Kysely's values, from its CommonJS build: every module of inkgate takes them from here, never
 * from an ES import of 'kysely', so that one copy of its classes is loaded (`instanceof
 * PostgresAdapter` holds) — and it is the cheaper copy: Kysely is 262 modules, and Node 24 loads
 * them as ES modules in about twice the time it takes for the same files as CommonJS (~100 ms
 * against ~55 of a start, measured after fastify, with the compile cache). Types come from 'kysely'
 * itself (`import type`); both builds have the same declarations.
 */
const kysely = createRequire(import.meta.url)('kysely') as KyselyModule;

export const sql: KyselyModule['sql'] = kysely.sql;
export const Kysely: KyselyModule['Kysely'] = kysely.Kysely;
export type Kysely<DB> = import('kysely').Kysely<DB>;
export const CompiledQuery: KyselyModule['CompiledQuery'] = kysely.CompiledQuery;
export const Migrator: KyselyModule['Migrator'] = kysely.Migrator;
export const PostgresAdapter: KyselyModule['PostgresAdapter'] = kysely.PostgresAdapter;
export const PostgresDialect: KyselyModule['PostgresDialect'] = kysely.PostgresDialect;
export const SqliteDialect: KyselyModule['SqliteDialect'] = kysely.SqliteDialect;
