import { Type } from '../http/json-schema.ts';
import { createValidatorCompiler, toFieldErrors } from '../http/validation.ts';
import { CreateUserBody } from './schemas.ts';

/** Signup's fields but the password (checked apart, by password-policy.ts), from the one schema POST /users uses. */
const AccountFields = Type.Omit(CreateUserBody, ['password']);

/** What each field must be, in words a person at a terminal or reading a config error understands. */
const RULES: Record<string, string> = {
  '/username': 'must be 3 to 32 of A-Z a-z 0-9 _ . -',
  '/email': 'must be an email address',
  '/full_name': 'must be at most 100 characters, without NUL',
};

let validate: (((value: unknown) => boolean) & { errors?: Parameters<typeof toFieldErrors>[0] }) | undefined;

/**
 * The problems POST /users would find with these fields, one per field ({path, message}), for the
 * accounts the operator makes outside the API (CLI create-user, ADMIN_* at start).
 */
export function accountFieldProblems(fields: {
  username: string;
  email: string;
  full_name?: string | undefined;
}): Array<{ path: string; message: string }> {
  validate ??= createValidatorCompiler()({
    schema: AccountFields,
    httpPart: 'body',
    method: 'POST',
    url: '/users',
  }) as NonNullable<typeof validate>;
  const body = {
    username: fields.username,
    email: fields.email,
    ...(fields.full_name !== undefined && { full_name: fields.full_name }),
  };
  if (validate!(body)) return [];
  return toFieldErrors(validate!.errors ?? []).map(({ path, message }) => ({
    path,
    message: RULES[path] ?? message,
  }));
}
