import type { Redis } from 'ioredis';
import { type BucketCounts, METRICS_BUCKET_SECONDS, METRICS_RETENTION_MINUTES } from '@sidecar/core';
import type { Keys } from './keys.js';

/**
 * Apps' traffic counts per 10-second bucket (one hash each, kept a day): routers add to them in
 * batches, the API reads a range. Counts from several routers add up (HINCRBY).
 */
export class AppTrafficStore {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
  ) {}

  /** Adds every app's pending counts in one round trip. */
  async add(batch: ReadonlyMap<string, ReadonlyMap<number, BucketCounts>>): Promise<void> {
    const m = this.redis.multi();
    let commands = 0;
    for (const [app, buckets] of batch)
      for (const [bucketSec, counts] of buckets) {
        const key = this.k.appTraffic(app, bucketSec);
        for (const [field, n] of Object.entries(counts)) if (n !== 0) m.hincrby(key, field, n);
        m.expire(key, METRICS_RETENTION_MINUTES * 60 + METRICS_BUCKET_SECONDS);
        commands++;
      }
    if (commands > 0) await m.exec();
  }

  /** The buckets whose start is in [fromSec, toSec). */
  async range(app: string, fromSec: number, toSec: number): Promise<Map<number, BucketCounts>> {
    const starts: number[] = [];
    const first = Math.floor(fromSec / METRICS_BUCKET_SECONDS) * METRICS_BUCKET_SECONDS;
    for (let t = first; t < toSec; t += METRICS_BUCKET_SECONDS) starts.push(t);
    const p = this.redis.pipeline();
    for (const t of starts) p.hgetall(this.k.appTraffic(app, t));
    const results = (await p.exec()) ?? [];
    const out = new Map<number, BucketCounts>();
    results.forEach(([, raw], i) => {
      const fields = Object.entries((raw ?? {}) as Record<string, string>);
      if (fields.length > 0) out.set(starts[i]!, Object.fromEntries(fields.map(([f, v]) => [f, Number(v)])));
    });
    return out;
  }

  /** Removes an app's buckets (the app is deleted; a new app of the same name starts from nothing). */
  async remove(app: string): Promise<void> {
    const match = this.k.appTraffic(app, 0).replace(/0$/, '*');
    for await (const keys of this.redis.scanStream({ match, count: 500 }) as AsyncIterable<string[]>)
      if (keys.length > 0) await this.redis.del(...keys);
  }
}
