import { createLogger } from './http/logging.ts';
import { configFromEnvironment, startServer } from './server.ts';

// The process: configuration, database, migrations, app, listen; SIGTERM/SIGINT drain and close.
const config = configFromEnvironment();
const log = createLogger(config.logLevel);

// A crash is logged as one fatal line before the process ends (the log is flushed on exit).
process.on('uncaughtException', (error) => {
  log.fatal({ err: error }, 'uncaught exception: exiting');
  process.exit(1);
});
process.on('unhandledRejection', (reason) => {
  log.fatal({ err: reason }, 'unhandled promise rejection: exiting');
  process.exit(1);
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
        log.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
} catch (error) {
  log.fatal({ err: error }, 'could not start');
  process.exit(1);
}
