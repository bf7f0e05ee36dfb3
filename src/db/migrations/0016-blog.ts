import { isPostgres } from '../dialect.ts';
import { type Kysely, sql } from '../kysely.ts';

// Frozen: the blog. Posts gain a status (draft, scheduled, published) and published_at, the HTML
// made from their Markdown on write (with the renderer version that made it), their excerpt, feature
// image, reading time and the counts their answers carry. Every slug a post has had is a row of
// post_slugs, whose key is the one place slugs are unique (the current one is posts.slug; the others
// answer 301). Tags are one row per slug with the count of published posts; post_tags copies the
// post's published_at while it is published, so that a tag's page is one index range at any size.
// Favourites and follows are unique pairs; comments are numbered within their post.
// Existing posts get a slug from their title and published_at = created_at. Never import app code here.

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  const id = isPostgres(db) ? 'uuid' : 'text';
  const columns: Array<[string, string, boolean, unknown]> = [
    ['slug', 'text', false, undefined],
    ['status', 'text', true, 'published'],
    ['published_at', 'timestamptz', false, undefined],
    ['excerpt', 'text', true, ''],
    ['summary', 'text', true, ''],
    ['html', 'text', true, ''],
    ['rendered_with', 'integer', true, 0],
    ['feature_image', 'text', false, undefined],
    ['reading_minutes', 'integer', true, 1],
    ['tags', 'text', true, '[]'],
    ['comments_count', 'integer', true, 0],
    ['favorites_count', 'integer', true, 0],
    ['last_comment_number', 'integer', true, 0],
  ];
  for (const [name, type, notNull, fallback] of columns) {
    await db.schema
      .alterTable('posts')
      // biome-ignore lint/suspicious/noExplicitAny: the column types above are Kysely's own names.
      .addColumn(name, type as any, (c) => (notNull ? c.notNull().defaultTo(fallback) : c))
      .execute();
  }
  await sql`update posts set published_at = created_at`.execute(db);

  await db.schema
    .createTable('post_slugs')
    .addColumn('slug', 'text', (c) => c.primaryKey())
    .addColumn('post_id', id, (c) => c.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('post_slugs_post_idx').on('post_slugs').column('post_id').execute();
  await backfillSlugs(db);

  // The public lists: published posts, newest published_at first, for everyone and per author.
  await sql`create index posts_listed_idx on posts (published_at desc, id desc) where status = 'published'`.execute(
    db,
  );
  await sql`create index posts_author_listed_idx on posts (author_id, published_at desc, id desc) where status = 'published'`.execute(
    db,
  );
  // The scheduler's question: which scheduled posts are due.
  await sql`create index posts_scheduled_idx on posts (published_at) where status = 'scheduled'`.execute(db);
  await sql`create index posts_rendered_idx on posts (rendered_with)`.execute(db);

  await db.schema
    .createTable('tags')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('slug', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('posts_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('tags_count_idx').on('tags').columns(['posts_count desc', 'slug']).execute();
  await db.schema
    .createTable('post_tags')
    .addColumn('post_id', id, (c) => c.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('tag_id', id, (c) => c.notNull().references('tags.id').onDelete('cascade'))
    // The post's published_at while it is published; null while it is not.
    .addColumn('listed_at', 'timestamptz')
    .addPrimaryKeyConstraint('post_tags_pkey', ['post_id', 'tag_id'])
    .execute();
  await sql`create index post_tags_listed_idx on post_tags (tag_id, listed_at desc, post_id desc) where listed_at is not null`.execute(
    db,
  );

  await db.schema
    .createTable('favorites')
    .addColumn('user_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('post_id', id, (c) => c.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('favorites_pkey', ['user_id', 'post_id'])
    .execute();
  await db.schema.createIndex('favorites_post_idx').on('favorites').column('post_id').execute();

  await db.schema
    .createTable('follows')
    .addColumn('follower_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('author_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('follows_pkey', ['follower_id', 'author_id'])
    .execute();
  await db.schema.createIndex('follows_author_idx').on('follows').column('author_id').execute();

  await db.schema
    .createTable('comments')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('post_id', id, (c) => c.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('author_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('html', 'text', (c) => c.notNull())
    .addColumn('rendered_with', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addUniqueConstraint('comments_post_number_key', ['post_id', 'number'])
    .execute();
  await db.schema.createIndex('comments_author_idx').on('comments').column('author_id').execute();
}

/** Slugs of the posts already there: from their titles, as the app makes them then, numbered when taken. */
// biome-ignore lint/suspicious/noExplicitAny: see up().
async function backfillSlugs(db: Kysely<any>): Promise<void> {
  const taken = new Set<string>();
  let after: string | undefined;
  for (;;) {
    let query = db.selectFrom('posts').select(['id', 'title', 'created_at']);
    if (after !== undefined) query = query.where('id', '>', after);
    const rows: Array<{ id: string; title: string; created_at: Date }> = await query
      .orderBy('id')
      .limit(1000)
      .execute();
    if (rows.length === 0) return;
    for (const row of rows) {
      const base = frozenSlug(row.title);
      let slug = base;
      for (let n = 2; taken.has(slug); n += 1)
        slug = `${base.slice(0, 96 - `-${n}`.length).replace(/-+$/, '')}-${n}`;
      taken.add(slug);
      await db.updateTable('posts').set({ slug }).where('id', '=', row.id).execute();
      await db
        .insertInto('post_slugs')
        .values({ slug, post_id: row.id, created_at: row.created_at })
        .execute();
    }
    after = rows[rows.length - 1]!.id;
  }
}

const FROZEN_RESERVED = new Set(
  'account admin api author authors docs feed feeds login logout p page posts robots search sitemap tag tags users'.split(
    ' ',
  ),
);

/** The slug rule of this migration's time (posts/slugs.ts may move on; this may not). */
function frozenSlug(title: string): string {
  const folded = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  const head = folded.slice(0, 96);
  const cut = (
    folded.length > 96 && head.lastIndexOf('-') > 48 ? head.slice(0, head.lastIndexOf('-')) : head
  ).replace(/-+$/, '');
  const slug = cut || 'post';
  return FROZEN_RESERVED.has(slug) ? `${slug}-post` : slug;
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['comments', 'follows', 'favorites', 'post_tags', 'tags', 'post_slugs']) {
    await db.schema.dropTable(table).execute();
  }
  for (const index of [
    'posts_rendered_idx',
    'posts_scheduled_idx',
    'posts_author_listed_idx',
    'posts_listed_idx',
  ]) {
    await sql`drop index ${sql.raw(index)}`.execute(db);
  }
  for (const column of [
    'last_comment_number',
    'favorites_count',
    'comments_count',
    'tags',
    'reading_minutes',
    'feature_image',
    'rendered_with',
    'html',
    'summary',
    'excerpt',
    'published_at',
    'status',
    'slug',
  ]) {
    await db.schema.alterTable('posts').dropColumn(column).execute();
  }
}
