import type { Redis } from 'ioredis';
import { cutLine } from './deploy-log.js';
import { followStream } from './follow.js';
import type { Keys } from './keys.js';
import type { StreamHub } from './stream-hub.js';

/** Where a line came from: a container's stdout or stderr, or a file it wrote under /var/log/app (shipped by the `logs` sidecar). */
export type AppLogStream = 'stdout' | 'stderr' | 'file';

/** One line an app's container wrote; `file` (relative to /var/log/app) only when `stream` is `file`. */
export interface AppLogLine {
  id: string;
  time: string;
  pod: string;
  container: string;
  release: string;
  stream: AppLogStream;
  file?: string;
  line: string;
}

/** Lines kept per app (the stream is trimmed approximately to this length) and bytes per stored line:
 *  an app's log stays under ~40 MB of Redis whatever it prints. */
export const APP_LOG_MAX_LINES = 10_000;
export const APP_LOG_MAX_LINE_BYTES = 4096;
/** Lines older than this are dropped (default; `SIDECAR_LOG_MAX_AGE_MS` in the worker). */
export const APP_LOG_MAX_AGE_MS = 7 * 24 * 3600_000;

/**
 * An app's runtime and sidecar logs as a Redis stream: they outlive pods,
 * redeploys and rollbacks. Written by the worker's collector, read by the API.
 */
export class AppLogStore {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
    private readonly hub: StreamHub,
    private readonly maxAgeMs = APP_LOG_MAX_AGE_MS,
  ) {}

  /** Appends lines; `cursor` (field → value) is stored in the same transaction, so a crash never repeats or skips lines. */
  async append(app: string, lines: Array<Omit<AppLogLine, 'id'>>, cursor?: Record<string, string>): Promise<void> {
    if (lines.length === 0) return;
    const m = this.redis.multi();
    if (cursor) m.hset(this.cursorKey(app), cursor);
    for (const l of lines) {
      const file = l.file !== undefined ? ['file', l.file] : [];
      m.xadd(
        this.k.appLogs(app),
        'MAXLEN',
        '~',
        APP_LOG_MAX_LINES,
        '*',
        'time',
        l.time,
        'pod',
        l.pod,
        'container',
        l.container,
        'release',
        l.release,
        'stream',
        l.stream,
        ...file,
        'line',
        cutLine(l.line, APP_LOG_MAX_LINE_BYTES),
      );
    }
    // Stream ids begin with the time a line was stored: everything before the age limit goes.
    m.xtrim(this.k.appLogs(app), 'MINID', `${Math.max(0, Date.now() - this.maxAgeMs)}-0`);
    await m.exec();
  }

  /** The last `n` lines (oldest first) that pass `keep`, reading back no further than `sinceMs`. */
  async tail(
    app: string,
    opts: {
      n: number;
      keep?: (l: AppLogLine) => boolean;
      sinceMs?: number;
      /** Stop once the lines kept weigh this much (each line's bytes plus ~128 of metadata): reads stay bounded too. */
      maxBytes?: number;
    },
  ): Promise<AppLogLine[]> {
    const out: AppLogLine[] = [];
    let end = '+';
    let bytes = 0;
    const full = () => out.length >= opts.n || (opts.maxBytes !== undefined && bytes >= opts.maxBytes);
    // Filtering by container may need more than n entries; read backwards in pages.
    while (!full()) {
      const page = await this.redis.xrevrange(this.k.appLogs(app), end, '-', 'COUNT', 500);
      if (page.length === 0) break;
      let older = false;
      for (const [id, fields] of page) {
        // Stream ids start with the append time in ms: older pages cannot match `since` either.
        if (opts.sinceMs !== undefined && Number(id.split('-')[0]) < opts.sinceMs) {
          older = true;
          break;
        }
        const l = toLine(id, fields);
        if (!opts.keep || opts.keep(l)) {
          out.push(l);
          bytes += Buffer.byteLength(l.line) + 128;
        }
        if (full()) break;
      }
      if (older) break;
      const lastId = page.at(-1)![0];
      end = `(${lastId}`;
      if (page.length < 500) break;
    }
    return out.reverse();
  }

  /** Lines after `afterId`, up to one page. */
  async read(app: string, afterId: string): Promise<AppLogLine[]> {
    const res = await this.redis.xread('COUNT', 1000, 'STREAMS', this.k.appLogs(app), afterId);
    return (res?.[0]?.[1] ?? []).map(([id, fields]) => toLine(id, fields));
  }

  /** Pages after `afterId` as they are written, until `signal` aborts (empty pages: quiet for a while). */
  follow(app: string, afterId: string, signal: AbortSignal): AsyncGenerator<AppLogLine[]> {
    return followStream({
      hub: this.hub,
      key: this.k.appLogs(app),
      after: afterId,
      signal,
      read: (after) => this.read(app, after),
    });
  }

  /** Where the collector keeps, per container and stream, the time of the last line it stored. */
  cursorKey(app: string): string {
    return `${this.k.appLogs(app)}:cursor`;
  }

  async cursor(app: string, fields: string[]): Promise<Array<string | null>> {
    return this.redis.hmget(this.cursorKey(app), ...fields);
  }

  /** The id of the newest entry ('0-0' when empty): where a follower without history starts. */
  async lastId(app: string): Promise<string> {
    const [last] = await this.redis.xrevrange(this.k.appLogs(app), '+', '-', 'COUNT', 1);
    return last?.[0] ?? '0-0';
  }

  async remove(app: string): Promise<void> {
    await this.redis.del(this.k.appLogs(app), this.cursorKey(app));
  }
}

function toLine(id: string, fields: string[]): AppLogLine {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  const stream: AppLogStream = f.stream === 'stderr' || f.stream === 'file' ? f.stream : 'stdout';
  return {
    id,
    time: f.time ?? '',
    pod: f.pod ?? '',
    container: f.container ?? '',
    release: f.release ?? '',
    stream,
    ...(f.file !== undefined ? { file: f.file } : {}),
    line: f.line ?? '',
  };
}
