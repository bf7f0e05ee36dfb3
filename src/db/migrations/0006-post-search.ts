import { isPostgres } from '../dialect.ts';
import { type Kysely, sql } from '../kysely.ts';

// Frozen: substring search over posts that stays index-backed (GET /posts?q=). SQLite: an FTS5
// table with the trigram tokenizer over posts' own rows (external content, kept in step by
// triggers). PostgreSQL: pg_trgm GIN indexes on title and content, which serve ILIKE '%…%'.
// Both back-fill the posts already there. Never import app code here.

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  if (isPostgres(db)) {
    await createTrigramExtension(db);
    const { rows } = await sql<{ schema: string }>`
      select n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace
      where e.extname = 'pg_trgm'`.execute(db);
    const opclass = sql.raw(`${quoteIdentifier(rows[0]!.schema)}.gin_trgm_ops`);
    await sql`create index posts_title_trgm_idx on posts using gin (title ${opclass})`.execute(db);
    await sql`create index posts_content_trgm_idx on posts using gin (content ${opclass})`.execute(db);
    return;
  }
  await sql`create virtual table posts_fts using fts5(
    title, content, content = 'posts', content_rowid = 'rowid', tokenize = 'trigram'
  )`.execute(db);
  await sql`create trigger posts_fts_insert after insert on posts begin
    insert into posts_fts (rowid, title, content) values (new.rowid, new.title, new.content);
  end`.execute(db);
  await sql`create trigger posts_fts_delete after delete on posts begin
    insert into posts_fts (posts_fts, rowid, title, content) values ('delete', old.rowid, old.title, old.content);
  end`.execute(db);
  await sql`create trigger posts_fts_update after update of title, content on posts begin
    insert into posts_fts (posts_fts, rowid, title, content) values ('delete', old.rowid, old.title, old.content);
    insert into posts_fts (rowid, title, content) values (new.rowid, new.title, new.content);
  end`.execute(db);
  await sql`insert into posts_fts (posts_fts) values ('rebuild')`.execute(db);
}

/**
 * pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it. It is one per
 * database, kept in `public` so that deployments (and test schemas) sharing the database all find it;
 * two migrations creating it at once are fine.
 */
// biome-ignore lint/suspicious/noExplicitAny: see up().
async function createTrigramExtension(db: Kysely<any>): Promise<void> {
  try {
    await sql`create extension if not exists pg_trgm schema public`.execute(db);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== '23505' && code !== '42710') throw error; // created by a concurrent migration
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  if (isPostgres(db)) {
    await sql`drop index posts_content_trgm_idx`.execute(db);
    await sql`drop index posts_title_trgm_idx`.execute(db);
    return;
  }
  for (const name of ['posts_fts_update', 'posts_fts_delete', 'posts_fts_insert']) {
    await sql`drop trigger ${sql.raw(name)}`.execute(db);
  }
  await sql`drop table posts_fts`.execute(db);
}
