import { Type } from 'typebox';
import { PageQuery } from '../http/pagination.ts';

export const TITLE_MAX = 200;
const CONTENT_MAX = 60_000;
const NO_NUL = '^[^\\u0000]*$';

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
  description: `1 to ${CONTENT_MAX} characters`,
  examples: ['My first post.'],
});

export const PostPublic = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    title: Type.String({ examples: ['Hello, world'] }),
    content: Type.String({ examples: ['My first post.'] }),
    author: Type.Object({
      id: Type.String({ format: 'uuid' }),
      username: Type.String({ examples: ['ada'] }),
    }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Post' },
);

export const CreatePostBody = Type.Object(
  { title: Title, content: Content },
  { additionalProperties: false },
);
export const PatchPostBody = Type.Object(
  { title: Type.Optional(Title), content: Type.Optional(Content) },
  { additionalProperties: false },
);

export const PostIdParams = Type.Object({
  id: Type.String({ maxLength: 100, description: 'post id (UUID)' }),
});

export const ListPostsQuery = Type.Object(
  {
    author: Type.Optional(
      Type.String({
        maxLength: 32,
        pattern: '^[A-Za-z0-9_.-]+$',
        description: 'only posts by this username',
      }),
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

export const MyPostsQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
