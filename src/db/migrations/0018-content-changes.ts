import { isPostgres } from '../dialect.ts';
import { type Kysely, sql } from '../kysely.ts';

// Frozen: the public caches' change feed, as 0017 is the session cache's. Every change to a row that
// anyone's view of the blog shows (a post, its slugs and tags, a tag's count, a comment, an author's
// public profile) adds a row here, in the same transaction, by a trigger. Each instance reads the
// rows committed since its last look a few times a second and drops its public lists and pages when
// there are any, so that it may keep them past a second while it keeps looking
// (src/posts/service.ts). Read exactly as session_changes is (src/db/change-feed.ts): on SQLite by
// id, on PostgreSQL by each row's transaction id.
// Never import app code here.

/** The tables anyone's view reads, what a change to one names and with which column, and which updates count (all, by default). */
const SOURCES: ReadonlyArray<{ table: string; kind: string; column: string; of?: string }> = [
  { table: 'posts', kind: 'post', column: 'id' },
  { table: 'post_slugs', kind: 'post', column: 'post_id' },
  { table: 'post_tags', kind: 'post', column: 'post_id' },
  { table: 'tags', kind: 'tag', column: 'id' },
  // A comment names its post (the page that shows it).
  { table: 'comments', kind: 'comment', column: 'post_id' },
  // What pages show of an author; a disabled author's posts leave the lists.
  { table: 'users', kind: 'user', column: 'id', of: 'username, full_name, bio, image, disabled' },
];

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  if (isPostgres(db)) {
    await sql`create table content_changes (
      id bigint generated always as identity primary key,
      kind text not null,
      subject text not null,
      xid xid8 not null default pg_current_xact_id(),
      at timestamptz not null default now()
    )`.execute(db);
    await sql`create index content_changes_xid_idx on content_changes (xid)`.execute(db);
    await sql`create index content_changes_at_idx on content_changes (at)`.execute(db);
    await sql`create function inkgate_content_change() returns trigger language plpgsql as $$
      begin
        insert into content_changes (kind, subject) values (
          tg_argv[0],
          to_jsonb(case when tg_op = 'DELETE' then old else new end) ->> tg_argv[1]
        );
        return null;
      end
    $$`.execute(db);
    for (const { table, kind, column, of } of SOURCES) {
      // A new user shows nowhere until they post; a new post, slug, tag or comment may.
      const events = of ? `update of ${of} or delete` : 'insert or update or delete';
      await sql`create trigger ${sql.raw(`content_changes_${table}`)} after ${sql.raw(events)} on ${sql.table(table)}
        for each row execute function inkgate_content_change(${sql.lit(kind)}, ${sql.lit(column)})`.execute(
        db,
      );
    }
    return;
  }
  await sql`create table content_changes (
    id integer primary key autoincrement,
    kind text not null,
    subject text not null,
    at timestamptz not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  )`.execute(db);
  await sql`create index content_changes_at_idx on content_changes (at)`.execute(db);
  for (const { table, kind, column, of } of SOURCES) {
    for (const [event, row] of events(of)) {
      const when = event === 'update' && of ? `update of ${of}` : event;
      await sql`create trigger ${sql.raw(`content_changes_${table}_${event}`)} after ${sql.raw(when)} on ${sql.table(table)} begin
        insert into content_changes (kind, subject) values (${sql.lit(kind)}, ${sql.raw(`${row}.${column}`)});
      end`.execute(db);
    }
  }
}

/** SQLite's triggers, one per event: a new user shows nowhere until they post. */
function events(of: string | undefined) {
  const all = [
    ['insert', 'new'],
    ['update', 'new'],
    ['delete', 'old'],
  ] as const;
  return of ? all.slice(1) : all;
}

// biome-ignore lint/suspicious/noExplicitAny: as above.
export async function down(db: Kysely<any>): Promise<void> {
  for (const { table, of } of SOURCES) {
    if (isPostgres(db)) {
      await sql`drop trigger ${sql.raw(`content_changes_${table}`)} on ${sql.table(table)}`.execute(db);
    } else {
      for (const [event] of events(of)) {
        await sql`drop trigger ${sql.raw(`content_changes_${table}_${event}`)}`.execute(db);
      }
    }
  }
  if (isPostgres(db)) await sql`drop function inkgate_content_change()`.execute(db);
  await sql`drop table content_changes`.execute(db);
}
