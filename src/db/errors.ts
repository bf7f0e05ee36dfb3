/** A unique-key violation, on either engine (PostgreSQL 23505; SQLite SQLITE_CONSTRAINT_UNIQUE / PRIMARYKEY). */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  // node:sqlite sets errcode to SQLite's extended result code: 2067 UNIQUE, 1555 PRIMARYKEY.
  return code === '23505' || errcode === 2067 || errcode === 1555;
}

/** The database could not be reached (connection refused, reset, timed out), as opposed to a bad query. */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (
    typeof code === 'string' &&
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|57P01|57P03|08\d{3})$/.test(code)
  ) {
    return true;
  }
  return (
    typeof message === 'string' &&
    // pg's own words for a server that went away, never answered, or could not be reached in time.
    /Connection terminated|Query read timeout|timeout exceeded when trying to connect|connection timeout|Client has encountered a connection error/i.test(
      message,
    )
  );
}
