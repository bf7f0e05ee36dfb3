import { isPostgres } from '../dialect.ts';
import { type Kysely, sql } from '../kysely.ts';

// Frozen: the session cache's change feed. Every change to a row the guard's view is read from
// (sessions, users, personal_tokens) adds a row here, in the same transaction, by a trigger: no
// code path can forget to, and a change that rolls back leaves none. Each instance reads the rows
// committed since its last look a few times a second and forgets what they name, so that its cache
// may trust an entry while it keeps looking (src/db/change-feed.ts).
//   SQLite runs one writer at a time, so ids grow in commit order and "id > the last seen" misses
//   nothing (AUTOINCREMENT: an id is never handed out twice, even after the oldest rows go).
//   PostgreSQL's ids can commit out of order; each row keeps its transaction's id (xid8), and a
//   reader asks for every row of a transaction at or after the oldest one still running at its
//   last look, which includes every row it could not see then.
// Never import app code here.

/**
 * The tables the guard's view reads, what a change to one names, with which column, and which
 * updates count (all, by default).
 */
const SOURCES: ReadonlyArray<{ table: string; kind: string; column: string; prefix: string; of?: string }> = [
  { table: 'sessions', kind: 'session', column: 'id', prefix: '' },
  { table: 'users', kind: 'user', column: 'id', prefix: '' },
  // A personal token's cache key is its hash under this prefix (src/personal-tokens/format.ts); the
  // use it records once a minute (last_used_at) changes nothing the guard reads.
  {
    table: 'personal_tokens',
    kind: 'session',
    column: 'token_hash',
    prefix: 'pat:',
    of: 'user_id, scopes, token_hash, expires_at, revoked_at',
  },
];

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  if (isPostgres(db)) {
    await sql`create table session_changes (
      id bigint generated always as identity primary key,
      kind text not null,
      subject text not null,
      xid xid8 not null default pg_current_xact_id(),
      at timestamptz not null default now()
    )`.execute(db);
    await sql`create index session_changes_xid_idx on session_changes (xid)`.execute(db);
    await sql`create index session_changes_at_idx on session_changes (at)`.execute(db);
    await sql`create function inkgate_session_change() returns trigger language plpgsql as $$
      begin
        insert into session_changes (kind, subject) values (
          tg_argv[0],
          tg_argv[2] || (to_jsonb(case when tg_op = 'DELETE' then old else new end) ->> tg_argv[1])
        );
        return null;
      end
    $$`.execute(db);
    for (const { table, kind, column, prefix, of } of SOURCES) {
      const update = of ? `update of ${of}` : 'update';
      await sql`create trigger ${sql.raw(`session_changes_${table}`)} after ${sql.raw(update)} or delete on ${sql.table(table)}
        for each row execute function inkgate_session_change(${sql.lit(kind)}, ${sql.lit(column)}, ${sql.lit(prefix)})`.execute(
        db,
      );
    }
    return;
  }
  await sql`create table session_changes (
    id integer primary key autoincrement,
    kind text not null,
    subject text not null,
    at timestamptz not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  )`.execute(db);
  await sql`create index session_changes_at_idx on session_changes (at)`.execute(db);
  for (const { table, kind, column, prefix, of } of SOURCES) {
    for (const [event, row] of [
      ['update', 'new'],
      ['delete', 'old'],
    ] as const) {
      const when = event === 'update' && of ? `update of ${of}` : event;
      await sql`create trigger ${sql.raw(`session_changes_${table}_${event}`)} after ${sql.raw(when)} on ${sql.table(table)} begin
        insert into session_changes (kind, subject) values (${sql.lit(kind)}, ${sql.lit(prefix)} || ${sql.raw(`${row}.${column}`)});
      end`.execute(db);
    }
  }
}

// biome-ignore lint/suspicious/noExplicitAny: as above.
export async function down(db: Kysely<any>): Promise<void> {
  for (const { table } of SOURCES) {
    if (isPostgres(db)) {
      await sql`drop trigger ${sql.raw(`session_changes_${table}`)} on ${sql.table(table)}`.execute(db);
    } else {
      for (const event of ['update', 'delete']) {
        await sql`drop trigger ${sql.raw(`session_changes_${table}_${event}`)}`.execute(db);
      }
    }
  }
  if (isPostgres(db)) await sql`drop function inkgate_session_change()`.execute(db);
  await sql`drop table session_changes`.execute(db);
}
