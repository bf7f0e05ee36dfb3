import { type Logger, pino } from 'pino';

/**
 * Structured JSON logs. Credentials never reach a log line: the Authorization and Cookie headers and
 * every password field are censored wherever they appear (pino's fast-redact paths).
 */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'password',
  'current_password',
  'new_password',
  'refresh_token',
  'access_token',
  '*.password',
  '*.current_password',
  '*.new_password',
  '*.refresh_token',
  '*.access_token',
  '*.authorization',
];

/**
 * Lines go to standard output asynchronously (pino's SonicBoom, `sync: false`): a request never
 * waits for its log line to be written, and lines written while a write is under way go out together.
 * pino writes what is left synchronously when the process exits — after a shutdown, a fatal error
 * or an uncaught exception alike — so no line of a crash is lost.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return pino(
    options,
    destination ? (destination as pino.DestinationStream) : pino.destination({ dest: 1, sync: false }),
  );
}

/** Query parameters that carry credentials when a client puts them in a URL (RFC 6750 §2.3 and others). */
const SECRET_QUERY_PARAMETERS = ['access_token', 'token', 'refresh_token', 'code'];

/** A request URL fit for a log line: the path, and the query with credential values redacted. */
export function loggableUrl(url: string): string {
  const mark = url.indexOf('?');
  if (mark < 0) return url;
  const query = new URLSearchParams(url.slice(mark + 1));
  let redacted = false;
  for (const name of SECRET_QUERY_PARAMETERS) {
    if (query.has(name)) {
      query.set(name, '[redacted]');
      redacted = true;
    }
  }
  return redacted ? `${url.slice(0, mark)}?${query.toString()}` : url;
}

/**
 * The per-request line's own logger, on the same stream but without redaction: that line holds only
 * fields inkgate sets itself (method, the redacted URL, route, status, duration, address, user id),
 * none of them a credential, so walking the redaction paths for it (a tenth of a protected
 * request's CPU in a profile) buys nothing. Everything else keeps going through `logger`.
 */
export function requestLineLogger(logger: Logger): Logger {
  const stream = (logger as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym];
  return pino({ level: logger.level }, stream);
}

/**
 * Writes a last line and ends the process, with every earlier line before it. pino writes a fatal
 * line with a synchronous flush, which, while an asynchronous write is under way on libuv's pool,
 * puts the queued lines out ahead of that write: so wait for SonicBoom's `drain` first (while its
 * `_writing` is set; its flush(cb) answers at once when `minLength` is 0). If the output cannot take
 * the lines within two seconds, the line is written and the process ends anyway.
 */
export function exitWithLine(
  log: Logger,
  line: { level: 'fatal' | 'error' | 'info'; message: string; err?: unknown },
  code: number,
): void {
  process.exitCode = code;
  const stream = (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    | { _writing?: boolean; once?: (event: string, listener: () => void) => void }
    | undefined;
  const afterWrites = (then: () => void) => {
    if (stream?._writing === true && typeof stream.once === 'function') stream.once('drain', then);
    else then();
  };
  setTimeout(() => process.exit(code), 2000);
  afterWrites(() => {
    if (line.err === undefined) log[line.level](line.message);
    else log[line.level]({ err: line.err }, line.message);
    afterWrites(() => process.exit(code));
  });
}
