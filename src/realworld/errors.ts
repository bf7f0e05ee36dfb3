/**
 * The RealWorld API's error bodies over inkgate's own errors. The
 * blog's services throw what they always throw; under /api one handler says it the specification's
 * way — `{"errors": {"<field>": ["<message>"]}}` — keeping the status and headers (Retry-After,
 * WWW-Authenticate) that classifyError gives.
 */
import { classifyError, type ErrorAnswer } from '../http/error-handler.ts';
import { realWorldErrors } from './mapping.ts';

/** What a route's 403 and 404 are about, as the specification names it. */
export type Subject = 'article' | 'comment' | 'profile' | 'user';

/** A 422 entry's path (`/user/email`, `/article/title`, `/title`) → the specification's field name. */
function fieldOf(path: string): string {
  const parts = path.split('/').filter(Boolean);
  const field = parts.length > 1 && ['user', 'article', 'comment'].includes(parts[0]!) ? parts[1] : parts[0];
  return field ?? 'body';
}

const BLANK = /can't be blank|must (NOT have fewer than 1 characters|have required property|be 1 to)/;

export function realWorldAnswer(
  error: unknown,
  subject: Subject,
): { answer: ErrorAnswer; body: ReturnType<typeof realWorldErrors> } {
  const answer = classifyError(error);
  const one = (field: string, message: string) => realWorldErrors({ [field]: [message] });
  if (answer.status === 422) {
    const fields: Record<string, string[]> = {};
    for (const entry of answer.errors ?? []) {
      const field = fieldOf(entry.path);
      fields[field] = [
        ...(fields[field] ?? []),
        BLANK.test(entry.message) ? "can't be blank" : entry.message,
      ];
    }
    return {
      answer,
      body: realWorldErrors(Object.keys(fields).length > 0 ? fields : { body: [answer.detail] }),
    };
  }
  if (answer.status === 401) {
    const body =
      answer.code === 'unauthenticated'
        ? one('token', 'is missing')
        : answer.code === 'invalid_token'
          ? one('token', 'is invalid')
          : one('credentials', 'invalid');
    return { answer, body };
  }
  if (answer.status === 409) {
    const field =
      answer.code === 'email_taken' ? 'email' : answer.code === 'username_taken' ? 'username' : subject;
    return { answer, body: one(field, 'has already been taken') };
  }
  if (answer.code === 'reauthentication_required')
    return { answer, body: one('password', 're-enter your password') };
  if (answer.status === 403) return { answer, body: one(subject, 'forbidden') };
  if (answer.status === 404) return { answer, body: one(subject, 'not found') };
  return { answer, body: one(answer.status >= 500 ? 'server' : 'request', answer.detail) };
}
