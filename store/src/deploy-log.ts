import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

export type LogEntry = { kind: 'line'; id: string; line: string } | { kind: 'end'; id: string; status: string };

/**
 * A deploy's build+deploy log as a Redis stream: one entry per line, and one
 * `end` entry when the deploy reaches a final status (written atomically with
 * the status by DeployStore.update). Readers follow with XREAD BLOCK.
 */
export class DeployLog {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
  ) {}

  async append(deployId: string, line: string): Promise<void> {
    await this.redis.xadd(this.k.deployLog(deployId), '*', 'line', line);
  }

  /** Entries after `afterId` ('0' = from the start); blocks up to blockMs when given and nothing is there yet. */
  async read(deployId: string, afterId: string, blockMs?: number, reader?: Redis): Promise<LogEntry[]> {
    const r = reader ?? this.redis;
    const key = this.k.deployLog(deployId);
    const res =
      blockMs === undefined
        ? await r.xread('COUNT', 1000, 'STREAMS', key, afterId)
        : await r.xread('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', key, afterId);
    if (!res) return [];
    const entries = res[0]?.[1] ?? [];
    return entries.map(([id, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      return f.end !== undefined ? { kind: 'end', id, status: f.end } : { kind: 'line', id, line: f.line ?? '' };
    });
  }
}
