import { createLogger, exitWithLine } from './http/logging.ts';
import { configFromEnvironment, type RunningServer, startFailure, startServer } from './server.ts';

// The process: configuration, database, migrations, app, listen; SIGTERM/SIGINT drain and close.
const config = configFromEnvironment();
const log = createLogger(config.logLevel);

// A crash is logged as one fatal line before the process ends, after every line before it.
process.on('uncaughtException', (error) => {
  exitWithLine(log, { level: 'fatal', message: 'uncaught exception: exiting', err: error }, 1);
});
process.on('unhandledRejection', (reason) => {
  exitWithLine(log, { level: 'fatal', message: 'unhandled promise rejection: exiting', err: reason }, 1);
});

// Under `npm start` one Ctrl-C (or a signal to the process group) arrives twice: from the terminal
// and forwarded by npm. A repeat within a second is that echo; a later one is a person insisting.
const ECHO_MS = 1000;
let server: RunningServer | undefined;
/** A signal that came while the server was starting: it stops as soon as it has started. */
let signalledDuringStart: string | undefined;
let stoppingSince: number | undefined;
const shutdown = (signal: string) => {
  if (stoppingSince !== undefined) {
    if (performance.now() - stoppingSince < ECHO_MS) return;
    log.warn({ signal }, 'second signal: exiting at once');
    process.exit(1);
  }
  stoppingSince = performance.now();
  if (!server) {
    signalledDuringStart = signal;
    log.info({ signal }, 'signal while starting: stopping once started (again to exit at once)');
    return;
  }
  log.info({ signal }, 'shutting down: draining in-flight requests');
  server.stop().then(
    () => {
      exitWithLine(log, { level: 'info', message: 'stopped' }, 0);
    },
    (error: unknown) => {
      exitWithLine(log, { level: 'error', message: 'shutdown failed', err: error }, 1);
    },
  );
};
// Taken before the start, so that a signal in the moment after "listening" is not the default exit.
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

try {
  server = await startServer(config, log);
  if (signalledDuringStart !== undefined) {
    stoppingSince = undefined;
    shutdown(signalledDuringStart);
  }
} catch (error) {
  // One line for the person at the terminal, and one log line without a stack.
  const reason = startFailure(error, config.databaseUrl);
  process.stderr.write(`inkgate: could not start: ${reason}\n`);
  exitWithLine(log, { level: 'fatal', message: `could not start: ${reason}` }, 1);
}
