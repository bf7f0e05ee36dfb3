/**
 * Seeds the benchmark's database directly through inkgate's own modules (schema, repositories,
 * key ring, token signing), so that thousands of users, sessions and tokens exist without tens of
 * thousands of Argon2id logins: one password hash serves every seeded user.
 */
import { randomInt } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { hashPassword } from '../src/accounts/passwords.ts';
import { systemClock } from '../src/clock.ts';
import { type Config, keySettings } from '../src/config.ts';
import { encodeCursor } from '../src/db/cursor.ts';
import { openDatabase } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import type { NewPost, NewUser } from '../src/db/schema.ts';
import { loadKeyRing } from '../src/keys/key-ring.ts';
import { RENDERER_VERSION, renderPost } from '../src/posts/markdown.ts';
import { createAccessTokens } from '../src/sessions/access-tokens.ts';
import { createSessionsRepository } from '../src/sessions/repository.ts';

export const PASSWORD = 'benchmark passphrase';
/** A word in about one post in twenty: what W2q searches for. */
export const SEARCH_WORD = 'lighthouse';
/** Tags of the seeded posts: post i has the tag `topic-<i % TAGS>`. */
export const TAGS = 20;

const WORDS = (
  'the of and to in is that it for on with as was by at be this from or an are not but have which ' +
  'write read post blog story morning evening river garden window letter paper engine winter summer'
).split(' ');

/** About 1 KiB of words; one post in twenty holds SEARCH_WORD. */
function content(i: number): string {
  const words: string[] = [];
  let length = 0;
  while (length < 1000) {
    const word = i % 20 === 0 && words.length === 40 ? SEARCH_WORD : WORDS[randomInt(WORDS.length)]!;
    words.push(word);
    length += word.length + 1;
  }
  return words.join(' ');
}

export interface Seeded {
  /** Every user's username (their password is PASSWORD). */
  usernames: string[];
  /** Access tokens: `tokensPerUser` per user, each of its own session. */
  tokens: string[];
  postIds: string[];
  /** Each post's slug (`post-number-<i>`). */
  slugs: string[];
  /** The tags' slugs: post i has tag i % TAGS. */
  tags: string[];
  /** A cursor at each post (as GET /posts would answer it), to page from anywhere. */
  cursors: string[];
}

export async function seed(
  config: Config,
  counts: { users: number; tokensPerUser: number; posts: number },
  log: (line: string) => void = () => {},
): Promise<Seeded> {
  const database = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(database.db);
    const { db } = database;
    const passwordHash = await hashPassword(PASSWORD);
    const start = Date.now() - counts.posts - counts.users; // one millisecond apart, all in the past
    const usernames: string[] = [];
    const userIds: string[] = [];
    for (let first = 0; first < counts.users; first += 1000) {
      const rows: NewUser[] = [];
      for (let i = first; i < Math.min(counts.users, first + 1000); i += 1) {
        const at = new Date(start + i);
        const username = `bench_${i}`;
        rows.push({
          id: uuidv7({ msecs: at.getTime() }),
          username,
          email: `${username}@example.com`,
          password_hash: passwordHash,
          full_name: `Bench User ${i}`,
          role: 'user',
          disabled: false,
          created_at: at,
          updated_at: at,
        });
      }
      await db.transaction().execute((trx) => trx.insertInto('users').values(rows).execute());
      usernames.push(...rows.map((row) => row.username));
      userIds.push(...rows.map((row) => row.id));
    }
    log(`seeded ${counts.users} users`);

    const keys = await loadKeyRing({ db, clock: systemClock, settings: keySettings(config) });
    const tokens = createAccessTokens({
      keys,
      clock: systemClock,
      issuer: config.issuer,
      audience: config.audience,
      ttlSeconds: config.accessTokenTtlSeconds,
    });
    const sessions = createSessionsRepository(db);
    const issued: string[] = [];
    for (let i = 0; i < Math.min(userIds.length, counts.users); i += 1) {
      for (let k = 0; k < counts.tokensPerUser; k += 1) {
        const now = new Date();
        const sessionId = uuidv7();
        await sessions.create(
          {
            id: sessionId,
            user_id: userIds[i]!,
            scope: 'profile posts:write',
            created_at: now,
            last_used_at: now,
            expires_at: new Date(now.getTime() + 86_400_000),
            user_agent: 'bench',
            ip: '127.0.0.1',
          },
          `bench-${sessionId}`,
          { passwordHash, sessionsEpoch: 0 },
        );
        const { token } = await tokens.issue(
          {
            userId: userIds[i]!,
            username: usernames[i]!,
            role: 'user',
            scopes: ['profile', 'posts:write'],
            sessionId,
          },
          { authTime: now },
        );
        issued.push(token);
      }
    }
    log(`seeded ${issued.length} sessions and tokens`);

    const tags = Array.from({ length: TAGS }, (_, t) => ({
      id: uuidv7(),
      slug: `topic-${t}`,
      name: `Topic ${t}`,
    }));
    await db
      .insertInto('tags')
      .values(
        tags.map((tag, t) => ({
          ...tag,
          posts_count: Math.floor(counts.posts / TAGS) + (t < counts.posts % TAGS ? 1 : 0),
          created_at: new Date(start),
        })),
      )
      .execute();
    const postIds: string[] = [];
    const slugs: string[] = [];
    const cursors: string[] = [];
    for (let first = 0; first < counts.posts; first += 1000) {
      const rows: NewPost[] = [];
      for (let i = first; i < Math.min(counts.posts, first + 1000); i += 1) {
        const at = new Date(start + counts.users + i);
        const text = content(i);
        const made = renderPost(text);
        rows.push({
          id: uuidv7({ msecs: at.getTime() }),
          author_id: userIds[i % userIds.length]!,
          title: `Post number ${i}`,
          slug: `post-number-${i}`,
          content: text,
          html: made.html,
          excerpt: '',
          summary: made.excerpt,
          reading_minutes: made.readingMinutes,
          rendered_with: RENDERER_VERSION,
          tags: JSON.stringify([tags[i % TAGS]!.name]),
          feature_image: null,
          status: 'published',
          published_at: at,
          created_at: at,
          updated_at: at,
        });
      }
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('posts').values(rows).execute();
        await trx
          .insertInto('post_slugs')
          .values(rows.map((row) => ({ slug: row.slug, post_id: row.id, created_at: row.created_at })))
          .execute();
        await trx
          .insertInto('post_tags')
          .values(
            rows.map((row, k) => ({
              post_id: row.id,
              tag_id: tags[(first + k) % TAGS]!.id,
              listed_at: row.published_at ?? null,
            })),
          )
          .execute();
      });
      postIds.push(...rows.map((row) => row.id));
      slugs.push(...rows.map((row) => row.slug));
      cursors.push(...rows.map((row) => encodeCursor({ createdAt: row.created_at as Date, id: row.id })));
      if ((first / 1000) % 100 === 99) log(`seeded ${first + 1000} posts`);
    }
    log(`seeded ${counts.posts} posts`);
    return { usernames, tokens: issued, postIds, slugs, tags: tags.map((tag) => tag.slug), cursors };
  } finally {
    await database.close();
  }
}
