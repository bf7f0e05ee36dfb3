import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { LogEvent, Logger } from 'kysely';
import type pgTypes from 'pg';
import { lazyModule } from '../lazy-module.ts';
import { Kysely, PostgresDialect, SqliteDialect } from './kysely.ts';
import { adaptNodeSqlite } from './node-sqlite.ts';
import type { Database } from './schema.ts';
import { registerSqliteFunctions } from './sqlite-functions.ts';

export interface OpenDatabase {
  readonly db: Kysely<Database>;
  /** Answers when the database does, within a few seconds (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

interface OpenOptions {
  /** Called with the SQL of every query run (tests count round trips with it). */
  onQuery?: (sql: string) => void;
}

/** `sqlite:PATH` (`sqlite::memory:` for a private in-memory one) or `postgres://…`. */
export function openDatabase(url: string, options: OpenOptions = {}): OpenDatabase {
  const log = options.onQuery
    ? (event: LogEvent) => {
        if (event.level === 'query') options.onQuery?.(event.query.sql);
      }
    : undefined;
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length), log);
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url, log);
  throw new Error('DATABASE_URL must start with sqlite: or postgres://');
}

/**
 * The database holds password hashes and, unless keys come from configuration, key material: only
 * inkgate's own user may read it. A folder it creates is 0700; the database file is created 0600
 * before SQLite opens it (SQLite gives its -wal and -shm files the database file's mode), and files
 * left looser by an older version are tightened.
 */
function restrictFiles(path: string): void {
  mkdirSync(dirname(resolve(path)), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
}

function openSqlite(path: string, log: Logger | undefined): OpenDatabase {
  if (path !== ':memory:') restrictFiles(path);
  const sqlite = new DatabaseSync(path, { enableForeignKeyConstraints: true, timeout: 5000 });
  // WAL lets readers and one writer (and several processes on one file) work side by side.
  sqlite.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
  registerSqliteFunctions(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: adaptNodeSqlite(sqlite) }), log });
  return {
    db,
    ping: async () => {
      sqlite.prepare('select 1').get();
    },
    close: () => db.destroy(),
  };
}

/** Loaded on first use: an embedded (SQLite) instance never pays for the PostgreSQL driver's memory. */
const pgModule = lazyModule<typeof pgTypes>('pg');

function openPostgres(url: string, log: Logger | undefined): OpenDatabase {
  const pg = pgModule();
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // An outage must answer 503 within 5 s, never hang: bound connecting and every statement.
    connectionTimeoutMillis: 3000,
    query_timeout: 4000,
    statement_timeout: 4000,
    idleTimeoutMillis: 30_000,
  });
  // A client that loses its server emits 'error' — on the pool while idle, on the client itself while
  // checked out — and an 'error' event nobody listens to ends the process. The queries it was running
  // fail on their own (and answer 503), so these events need no more than a listener.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log });
  return {
    db,
    ping: async () => {
      await pool.query('select 1');
    },
    close: () => db.destroy(),
  };
}
