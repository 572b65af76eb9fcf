import type { Redis } from 'ioredis';
import { followStream } from './follow.js';
import type { Keys } from './keys.js';
import type { StreamHub } from './stream-hub.js';

/** Lines kept per deploy log, and bytes per line: a deploy log stays under ~20 MB in Redis. */
export const DEPLOY_LOG_MAX_LINES = 10_000;
export const DEPLOY_LOG_MAX_LINE_BYTES = 2048;

// XADD while the stream is under the cap; at the cap, one notice; beyond, nothing.
const APPEND_CAPPED = `
local n = redis.call('XLEN', KEYS[1])
local cap = tonumber(ARGV[2])
if n < cap then return redis.call('XADD', KEYS[1], '*', 'line', ARGV[1]) end
if n == cap then return redis.call('XADD', KEYS[1], '*', 'line', ARGV[3]) end
return false`;

/** `line` cut to at most `max` bytes of UTF-8 (never inside a character), with a marker when cut. */
export function cutLine(line: string, max: number): string {
  if (Buffer.byteLength(line) <= max) return line;
  const marker = ' …[cut]';
  let cut = Buffer.from(line)
    .subarray(0, max - Buffer.byteLength(marker))
    .toString('utf8');
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut + marker;
}

export type LogEntry = { kind: 'line'; id: string; line: string } | { kind: 'end'; id: string; status: string };

/**
 * A deploy's build+deploy log as a Redis stream: one entry per line, and one
 * `end` entry when the deploy reaches a final status (written atomically with
 * the status by DeployStore.update). Followers share the process's one blocking reader (StreamHub).
 */
export class DeployLog {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
    private readonly hub: StreamHub,
  ) {}

  /**
   * Appends a line (cut to DEPLOY_LOG_MAX_LINE_BYTES). Past DEPLOY_LOG_MAX_LINES one notice says the
   * log was cut and later lines are dropped: a build that prints without end cannot fill Redis. The
   * `end` entry is always written (by DeployStore.update).
   */
  async append(deployId: string, line: string): Promise<void> {
    await this.redis.eval(
      APPEND_CAPPED,
      1,
      this.k.deployLog(deployId),
      cutLine(line, DEPLOY_LOG_MAX_LINE_BYTES),
      DEPLOY_LOG_MAX_LINES,
      `(the log was cut at ${DEPLOY_LOG_MAX_LINES} lines; later lines were dropped)`,
    );
  }

  /** Entries after `afterId` ('0' = from the start), up to one page. */
  async read(deployId: string, afterId: string): Promise<LogEntry[]> {
    const res = await this.redis.xread('COUNT', 1000, 'STREAMS', this.k.deployLog(deployId), afterId);
    const entries = res?.[0]?.[1] ?? [];
    return entries.map(([id, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      return f.end !== undefined ? { kind: 'end', id, status: f.end } : { kind: 'line', id, line: f.line ?? '' };
    });
  }

  /** Pages from the start, then live ones, until `signal` aborts (empty pages: quiet for a while). */
  follow(deployId: string, signal: AbortSignal): AsyncGenerator<LogEntry[]> {
    return followStream({
      hub: this.hub,
      key: this.k.deployLog(deployId),
      after: '0',
      signal,
      read: (after) => this.read(deployId, after),
    });
  }
}
