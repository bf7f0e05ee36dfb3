import { Type } from '../http/json-schema.ts';
import { PageQuery } from '../http/pagination.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './password-policy.ts';

const Username = Type.String({
  minLength: 3,
  maxLength: 32,
  pattern: '^[A-Za-z0-9_.-]+$',
  description: '3 to 32 of A-Z a-z 0-9 _ . -; unique regardless of case',
  examples: ['ada'],
});
const Email = Type.String({ format: 'email', maxLength: 254, examples: ['ada@example.com'] });
const Password = Type.String({
  minLength: PASSWORD_MIN_LENGTH,
  maxLength: PASSWORD_MAX_LENGTH,
  description: '8 to 1024 characters; not the username or email, nor a commonly used password',
  examples: ['correct horse battery staple'],
});
const FullName = Type.String({ maxLength: 100, pattern: '^[^\\u0000]*$', examples: ['Ada Lovelace'] });
const Bio = Type.String({
  maxLength: 1000,
  pattern: '^[^\\u0000]*$',
  description: 'a few words about the author, shown with their posts',
  examples: ['Mathematician; writes about engines.'],
});
const Image = Type.Union(
  [
    Type.String({
      maxLength: 2000,
      pattern: '^https://[^\\s]+$',
      description: 'an absolute https URL',
      examples: ['https://images.example.com/ada.png'],
    }),
    Type.Null(),
  ],
  { description: 'the author’s picture: an absolute https URL, or null for none' },
);

export const UserPublic = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    username: Type.String({ examples: ['ada'] }),
    email: Type.String({ examples: ['ada@example.com'] }),
    email_verified: Type.Boolean({
      examples: [true],
      description: 'the address was confirmed with a link sent to it',
    }),
    pending_email: Type.Union([Type.String(), Type.Null()], {
      examples: [null],
      description:
        'with EMAIL_VERIFICATION=required: a new address waiting for the link sent to it; `email` stays the account’s until then',
    }),
    full_name: Type.String({ examples: ['Ada Lovelace'] }),
    bio: Type.String({ examples: [''] }),
    image: Type.Union([Type.String(), Type.Null()], { examples: [null] }),
    role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
    disabled: Type.Boolean({ examples: [false], description: 'a disabled account cannot log in' }),
    mfa: Type.Object(
      {
        totp: Type.Boolean({ description: 'an authenticator app gives the second step' }),
        passkeys: Type.Integer({ minimum: 0, description: 'how many passkeys can sign in' }),
      },
      { description: 'the second factors the account has' },
    ),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'User', description: 'An account; never carries the password or its hash' },
);

export const CreateUserBody = Type.Object(
  { username: Username, email: Email, password: Password, full_name: Type.Optional(FullName) },
  { additionalProperties: false },
);

const CurrentPassword = Type.String({
  minLength: 1,
  maxLength: PASSWORD_MAX_LENGTH,
  examples: ['correct horse battery staple'],
});

export const UpdateMeBody = Type.Object(
  {
    username: Type.Optional(Username),
    full_name: Type.Optional(FullName),
    bio: Type.Optional(Bio),
    image: Type.Optional(Image),
    email: Type.Optional(Email),
    current_password: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: PASSWORD_MAX_LENGTH,
        description:
          'required with `email`: changing the address account recovery relies on needs the password',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ChangePasswordBody = Type.Object(
  { current_password: CurrentPassword, new_password: Password },
  { additionalProperties: false },
);

export const DeleteMeBody = Type.Object({ password: CurrentPassword }, { additionalProperties: false });

/** What signup answers with EMAIL_VERIFICATION=required, and the mail requests answer: the same for everyone. */
export const Accepted = Type.Object(
  { status: Type.Literal('accepted') },
  { $id: 'Accepted', description: 'Accepted; a message follows where there is someone to send it to' },
);

export const AdminUpdateUserBody = Type.Object(
  {
    role: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('admin')])),
    disabled: Type.Optional(Type.Boolean({ description: 'true ends every session of the user at once' })),
    full_name: Type.Optional(FullName),
    email: Type.Optional(Email),
  },
  { additionalProperties: false },
);

export const UserIdParams = Type.Object({
  id: Type.String({ maxLength: 100, description: 'user id (UUID)' }),
});

export const ListUsersQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
