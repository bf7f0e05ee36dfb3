import type { Kysely } from 'kysely';

// Frozen: an author's profile, shown with their posts: a short bio and an https image URL (or none).
// Never import app code here.

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('bio', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
  await db.schema.alterTable('users').addColumn('image', 'text').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: as above.
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('image').execute();
  await db.schema.alterTable('users').dropColumn('bio').execute();
}
