import { createLogger, exitWithLine } from './http/logging.ts';
import { configFromEnvironment, startFailure, startServer } from './server.ts';

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

try {
  const server = await startServer(config, log);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
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
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
} catch (error) {
  // One line for the person at the terminal, and one log line without a stack.
  const reason = startFailure(error, config.databaseUrl);
  process.stderr.write(`inkgate: could not start: ${reason}\n`);
  exitWithLine(log, { level: 'fatal', message: `could not start: ${reason}` }, 1);
}
