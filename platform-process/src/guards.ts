import type { Logger } from 'pino';

/**
 * A process-level net: an unhandled rejection or an uncaught exception is logged (with its stack) and
 * the process exits 1, for its supervisor (the launcher, or Kubernetes) to restart it. Carrying on in
 * an unknown state would be worse.
 */
export function exitOnUnhandled(log: Logger): void {
  process.on('unhandledRejection', (reason) => {
    log.fatal({ err: reason }, 'unhandled promise rejection; exiting so the supervisor restarts this process');
    process.exit(1);
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception; exiting so the supervisor restarts this process');
    process.exit(1);
  });
}
