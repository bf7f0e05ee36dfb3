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

/** What the one line per request says (API.md "Operations"): fields inkgate sets itself, no credential. */
export interface RequestLine {
  reqId: string;
  method: string;
  url: string;
  route: string | undefined;
  statusCode: number;
  durationMs: number;
  ip: string;
  userId: string | undefined;
}

/**
 * The per-request line, written straight to the logger's stream as the JSON line pino would make of
 * it (level, time, pid, hostname, the fields, `msg: "request"`): its fields are chosen once and the
 * constant parts made once, so a line costs a few string joins — pino's child bindings, redaction
 * walk and generic serialiser took about a tenth of a protected request's CPU in a profile. None of
 * its fields is a credential (the URL's credential parameters are redacted by `loggableUrl`), and
 * every other line keeps going through `logger` and its redaction. Undefined when `info` is off.
 */
export function requestLineWriter(logger: Logger): ((line: RequestLine) => void) | undefined {
  if (!logger.isLevelEnabled('info')) return undefined;
  const stream = (logger as unknown as Record<symbol, pino.DestinationStream | undefined>)[
    pino.symbols.streamSym
  ];
  if (!stream) return (line) => logger.info(line, 'request');
  const bindings = logger.bindings();
  const base = Object.entries(bindings)
    .map(([name, value]) => `,${JSON.stringify(name)}:${JSON.stringify(value)}`)
    .join('');
  const text = JSON.stringify;
  return (line) => {
    stream.write(
      `{"level":30,"time":${Date.now()}${base},"reqId":${text(line.reqId)},"method":${text(line.method)},"url":${text(line.url)}${
        line.route === undefined ? '' : `,"route":${text(line.route)}`
      },"statusCode":${line.statusCode},"durationMs":${line.durationMs},"ip":${text(line.ip)}${
        line.userId === undefined ? '' : `,"userId":${text(line.userId)}`
      },"msg":"request"}\n`,
    );
  };
}

/**
 * `request.log` without a pino child made for every request: Fastify makes one per request (its
 * bindings serialised each time) although most requests never log through it. This one makes the
 * child — the request's id bound as `reqId` — on the first line a request actually logs.
 */
export function lazyRequestLogger(parent: Logger, bindings: Record<string, unknown>): Logger {
  return new LazyChild(parent, bindings) as unknown as Logger;
}

class LazyChild {
  readonly #parent: Logger;
  readonly #bindings: Record<string, unknown>;
  #child: Logger | undefined;
  constructor(parent: Logger, bindings: Record<string, unknown>) {
    this.#parent = parent;
    this.#bindings = bindings;
  }
  #log(): Logger {
    this.#child ??= this.#parent.child(this.#bindings);
    return this.#child;
  }
  get level(): string {
    return this.#child?.level ?? this.#parent.level;
  }
  set level(level: string) {
    this.#log().level = level;
  }
  isLevelEnabled(level: string): boolean {
    const logger = this.#child ?? this.#parent;
    // A logger other than pino (Fastify takes any with the level methods) is asked every time.
    return typeof logger.isLevelEnabled === 'function' ? logger.isLevelEnabled(level) : true;
  }
  bindings(): Record<string, unknown> {
    return this.#log().bindings();
  }
  child(bindings: Record<string, unknown>, options?: pino.ChildLoggerOptions): Logger {
    return this.#log().child(bindings, options);
  }
  fatal(...args: Parameters<Logger['fatal']>): void {
    this.#log().fatal(...args);
  }
  error(...args: Parameters<Logger['error']>): void {
    this.#log().error(...args);
  }
  warn(...args: Parameters<Logger['warn']>): void {
    this.#log().warn(...args);
  }
  info(...args: Parameters<Logger['info']>): void {
    this.#log().info(...args);
  }
  debug(...args: Parameters<Logger['debug']>): void {
    if (this.isLevelEnabled('debug')) this.#log().debug(...args);
  }
  trace(...args: Parameters<Logger['trace']>): void {
    if (this.isLevelEnabled('trace')) this.#log().trace(...args);
  }
  silent(): void {}
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
