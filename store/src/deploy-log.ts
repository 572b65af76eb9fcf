import type { Redis } from 'ioredis';
import { followStream } from './follow.js';
import type { Keys } from './keys.js';
import type { StreamHub } from './stream-hub.js';

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

  async append(deployId: string, line: string): Promise<void> {
    await this.redis.xadd(this.k.deployLog(deployId), '*', 'line', line);
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
