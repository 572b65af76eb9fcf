import { pino, type Logger } from 'pino';
import { build as prettyStream } from 'pino-pretty';

export type { Logger } from 'pino';

export const LogFormat = { json: 'json', pretty: 'pretty' } as const;
export type LogFormat = (typeof LogFormat)[keyof typeof LogFormat];

export interface LoggerOptions {
  /** `json`: one JSON object per line (for machines and the launcher); `pretty`: readable lines. Default: pretty on a terminal, else json. */
  format?: LogFormat | undefined;
  level?: string | undefined;
  /** Where lines go (default stdout). */
  destination?: NodeJS.WritableStream;
}

/** The format a process logs in when none is configured: readable on a terminal, JSON otherwise. */
export const defaultFormat = (): LogFormat => (process.stdout.isTTY ? LogFormat.pretty : LogFormat.json);

/**
 * A structured logger for a platform process (`name`: api, router, worker, launcher). JSON lines carry
 * `level`, `time`, `name`, `msg` and the fields given; errors go under `err` (pino's serializer). Writes
 * are synchronous so the last lines before a crash are not lost.
 */
export function createLogger(name: string, opts: LoggerOptions = {}): Logger {
  const format = opts.format ?? defaultFormat();
  const base = { name, level: opts.level ?? 'info', base: { name } };
  if (format === LogFormat.pretty) {
    return pino(
      base,
      prettyStream({
        sync: true,
        colorize: !process.env.NO_COLOR && process.stdout.isTTY === true,
        ignore: 'pid,hostname,name',
        messageFormat: '{name}: {msg}',
        translateTime: 'HH:MM:ss.l',
        ...(opts.destination ? { destination: opts.destination } : {}),
      }),
    );
  }
  return pino(base, opts.destination ?? pino.destination({ sync: true }));
}
