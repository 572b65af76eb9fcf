/**
 * What a library module needs to log: pino's calling convention (fields first, then the message), so a
 * process passes its pino logger (or a child of it) straight in. Libraries never write to the console;
 * the process decides the format and where lines go.
 */
export interface Log {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

/** For tests and tools that do not care about a module's log lines. */
export const silentLog: Log = { info: () => undefined, warn: () => undefined, error: () => undefined };
