import { z } from 'zod';
import { Follow } from './deploys.js';

/** The most lines `?tail=` may ask for. */
export const MAX_LOG_TAIL = 10_000;

export const AppLogLine = z
  .object({
    id: z.string().meta({ description: 'Position in the log stream' }),
    time: z.string().meta({ description: 'When the line was written (RFC 3339, nanoseconds where known)' }),
    pod: z.string(),
    container: z.string(),
    release: z.string(),
    stream: z
      .enum(['stdout', 'stderr', 'file'])
      .meta({ description: '`file`: a line of a file under /var/log/app, shipped by the `logs` sidecar' }),
    file: z.string().optional().meta({ description: 'The file under /var/log/app, for stream `file`' }),
    line: z.string(),
  })
  .meta({ id: 'AppLogLine' });
export type AppLogLine = z.infer<typeof AppLogLine>;

const SINCE_UNITS = { s: 1e3, m: 60e3, h: 3600e3 } as const;
/**
 * `?since=`: an RFC 3339 time, or a duration back from `now` like `90s`, `15m`, `2h`, as epoch
 * milliseconds; undefined when it is neither.
 */
export function sinceToMs(v: string, now: number): number | undefined {
  const rel = /^(\d+)(s|m|h)$/.exec(v);
  if (rel) return now - Number(rel[1]) * SINCE_UNITS[rel[2] as keyof typeof SINCE_UNITS];
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

const TAIL_HINT = `a whole number from 0 to ${MAX_LOG_TAIL}`;
/** Query parameters given empty (`?container=`) count as absent. */
export const AppLogsQuery = z.object({
  tail: z.coerce
    .number({ error: TAIL_HINT })
    .int({ error: TAIL_HINT })
    .min(0, { error: TAIL_HINT })
    .max(MAX_LOG_TAIL, { error: TAIL_HINT })
    .default(100)
    .meta({ description: 'The newest N lines (at most 4 MiB of them)' }),
  container: z.string().optional().meta({ description: 'Only this container (e.g. `runtime`)' }),
  release: z
    .string()
    .regex(/^(?:[1-9]\d*)?$/, 'a release number, e.g. 3')
    .optional()
    .meta({ description: 'Only lines of pods of this release' }),
  since: z
    .string({ error: 'one value' })
    .refine(
      (v) => v === '' || sinceToMs(v, 0) !== undefined,
      'an RFC 3339 time (2026-11-27T17:00:00Z) or a duration like 15m',
    )
    .optional()
    .meta({ description: 'Lines stored since an RFC 3339 time, or for a duration back from now (`90s`, `15m`, `2h`)' }),
  follow: Follow,
});
export type AppLogsQuery = z.infer<typeof AppLogsQuery>;
