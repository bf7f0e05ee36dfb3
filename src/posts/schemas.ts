import { Type } from '../http/json-schema.ts';
import { PageQuery } from '../http/pagination.ts';
import { SLUG_MAX, SLUG_PATTERN } from './slugs.ts';
import { TAG_NAME_MAX, TAGS_MAX } from './tags.ts';

export const TITLE_MAX = 200;
export const EXCERPT_MAX = 300;
const CONTENT_MAX = 60_000;
const NO_NUL = '^[^\\u0000]*$';
const USERNAME = { maxLength: 32, pattern: '^[A-Za-z0-9_.-]+$' };

// Titles are trimmed before their length is checked (the service does that), so the schema bound is looser.
const Title = Type.String({
  minLength: 1,
  maxLength: 1000,
  pattern: NO_NUL,
  description: `trimmed, then 1 to ${TITLE_MAX} characters`,
  examples: ['Hello, world'],
});
const Content = Type.String({
  minLength: 1,
  maxLength: CONTENT_MAX,
  pattern: NO_NUL,
  description: `Markdown (CommonMark with tables and strikethrough; raw HTML is shown as text), 1 to ${CONTENT_MAX} characters`,
  examples: ['My *first* post.'],
});
const Status = Type.Union([Type.Literal('draft'), Type.Literal('scheduled'), Type.Literal('published')], {
  description:
    '`published` (the default: `published_at` now, or the past time given), `draft` (no `published_at`), or `scheduled` (a future `published_at`, published then on its own)',
});
const Image = Type.Union(
  [
    Type.String({
      maxLength: 2000,
      pattern: '^https://[^\\s]+$',
      description: 'an absolute https URL',
      examples: ['https://images.example.com/cover.jpg'],
    }),
    Type.Null(),
  ],
  { description: 'the post’s picture: an absolute https URL, or null for none' },
);

const Optional = {
  excerpt: Type.Optional(
    Type.String({
      maxLength: 1000,
      pattern: NO_NUL,
      description: `trimmed, at most ${EXCERPT_MAX} characters; when empty, answers carry the first 50 words of the text`,
    }),
  ),
  tags: Type.Optional(
    Type.Array(Type.String({ maxLength: 200, pattern: NO_NUL }), {
      maxItems: 100,
      description: `at most ${TAGS_MAX} tags of 1 to ${TAG_NAME_MAX} characters; names that differ only in case, accents or spacing are one tag`,
      examples: [['Engines', 'Mathematics']],
    }),
  ),
  slug: Type.Optional(
    Type.String({
      maxLength: SLUG_MAX,
      pattern: SLUG_PATTERN,
      description:
        'made from the title when left out; given, it must be free (409 `slug_taken`). A changed slug keeps the old one as a redirect.',
      examples: ['hello-world'],
    }),
  ),
  status: Type.Optional(Status),
  published_at: Type.Optional(
    Type.Union([Type.String({ format: 'date-time', maxLength: 40 }), Type.Null()], {
      description:
        'RFC 3339; the future with `scheduled`, the past (or none: now) with `published`, none with `draft`',
    }),
  ),
  feature_image: Type.Optional(Image),
};

const Author = Type.Object({
  id: Type.String({ format: 'uuid' }),
  username: Type.String({ examples: ['ada'] }),
});

export const PostPublic = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    slug: Type.String({ examples: ['hello-world'] }),
    title: Type.String({ examples: ['Hello, world'] }),
    content: Type.String({ description: 'Markdown', examples: ['My *first* post.'] }),
    html: Type.String({
      description: 'the content rendered and sanitised',
      examples: ['<p>My <em>first</em> post.</p>'],
    }),
    excerpt: Type.String({ description: 'the given excerpt, or the first 50 words of the text' }),
    tags: Type.Array(Type.String(), { description: 'tag names, sorted', examples: [['Engines']] }),
    status: Status,
    published_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    feature_image: Type.Union([Type.String(), Type.Null()]),
    reading_minutes: Type.Integer({ minimum: 1 }),
    comments_count: Type.Integer({ minimum: 0, description: 'visible comments' }),
    favorites_count: Type.Integer({ minimum: 0 }),
    favorited: Type.Boolean({ description: 'whether the caller favourited it (false without a token)' }),
    author: Author,
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Post' },
);

export const CreatePostBody = Type.Object(
  { title: Title, content: Content, ...Optional },
  { additionalProperties: false },
);
export const PatchPostBody = Type.Object(
  { title: Type.Optional(Title), content: Type.Optional(Content), ...Optional },
  { additionalProperties: false },
);

export const PostIdParams = Type.Object({
  id: Type.String({ maxLength: 100, description: 'post id (UUID)' }),
});
export const PostSlugParams = Type.Object({
  slug: Type.String({ maxLength: 200, description: 'a slug the post has, or had' }),
});
export const AuthorParams = Type.Object({
  username: Type.String({ maxLength: 100, description: 'the author’s username (any case)' }),
});

export const ListPostsQuery = Type.Object(
  {
    author: Type.Optional(Type.String({ ...USERNAME, description: 'only posts by this username' })),
    tag: Type.Optional(
      Type.String({
        maxLength: SLUG_MAX,
        pattern: SLUG_PATTERN,
        description: 'only posts with this tag (its slug)',
      }),
    ),
    favorited_by: Type.Optional(
      Type.String({ ...USERNAME, description: 'only posts this username favourited' }),
    ),
    q: Type.Optional(
      Type.String({
        minLength: 3,
        maxLength: 200,
        pattern: NO_NUL,
        description:
          'text (3 to 200 characters) found in the title or content, ignoring case; index-backed. A page may ' +
          'hold fewer posts than `limit` when the search reached its time budget: follow `next_cursor`.',
      }),
    ),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const MyPostsQuery = Type.Object(
  { status: Type.Optional(Status), ...PageQuery },
  { additionalProperties: false },
);
export const FeedQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

export const AuthorPublic = Type.Object(
  {
    username: Type.String({ examples: ['ada'] }),
    full_name: Type.String({ examples: ['Ada Lovelace'] }),
    bio: Type.String(),
    image: Type.Union([Type.String(), Type.Null()]),
    posts_count: Type.Integer({ minimum: 0, description: 'published posts' }),
    followers_count: Type.Integer({ minimum: 0 }),
    following: Type.Boolean({ description: 'whether the caller follows them (false without a token)' }),
  },
  { $id: 'Author' },
);

export const TagsList = Type.Object(
  {
    data: Type.Array(
      Type.Object({
        name: Type.String({ examples: ['Engines'] }),
        slug: Type.String({ examples: ['engines'] }),
        count: Type.Integer({ minimum: 1, description: 'published posts with this tag' }),
      }),
    ),
  },
  { description: 'Tags of published posts, most used first (at most 100)' },
);
