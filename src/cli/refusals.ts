import { HttpError, UnprocessableError } from '../http/errors.ts';

/**
 * A service's refusal as the command line words it: one line per wrong field (422), or the refusal's
 * own line; exit 1. Undefined for anything else, which the caller rethrows.
 */
export function reportRefusal(error: unknown): number | undefined {
  if (error instanceof UnprocessableError) {
    for (const { path, message } of error.errors)
      process.stderr.write(`inkgate: ${path.slice(1)} ${message}\n`);
    return 1;
  }
  if (error instanceof HttpError) {
    process.stderr.write(`inkgate: ${error.message}\n`);
    return 1;
  }
  return undefined;
}
