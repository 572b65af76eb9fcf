import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

/**
 * Scale to zero's two signals (docs/scale-to-zero.md): when each app last had traffic, written by the
 * routers in batches (a request ended, or a connection to it was open), read by the worker's idle sweep;
 * and the wake requests a router sends the worker when a request reaches a suspended app.
 */
export class AppActivity {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
  ) {}

  /** Records traffic seen (app → ms since the epoch); one round trip for all. */
  async touch(seen: ReadonlyMap<string, number>): Promise<void> {
    if (seen.size === 0) return;
    await this.redis.hset(this.k.activity, Object.fromEntries([...seen].map(([a, t]) => [a, String(t)])));
  }

  /** When each app last had traffic; absent when none was ever recorded. */
  async lastActive(apps: readonly string[]): Promise<Map<string, number>> {
    if (apps.length === 0) return new Map();
    const raw = await this.redis.hmget(this.k.activity, ...apps);
    const out = new Map<string, number>();
    apps.forEach((a, i) => {
      const v = Number(raw[i]);
      if (raw[i] !== null && Number.isFinite(v)) out.set(a, v);
    });
    return out;
  }

  /** Asks the worker to wake a suspended app (a request is waiting for it). */
  async requestWake(app: string): Promise<void> {
    await this.redis.publish(this.k.wakeChannel, app);
  }

  /** Calls `onWake(app)` for every wake request, on `subscriber` (a connection in subscriber mode). */
  async onWake(subscriber: Redis, onWake: (app: string) => void): Promise<void> {
    subscriber.on('message', (channel: string, app: string) => {
      if (channel === this.k.wakeChannel) onWake(app);
    });
    await subscriber.subscribe(this.k.wakeChannel);
  }

  /** Which pods were suspended (a restarted worker keeps exactly these suspended). */
  async recordSuspended(app: string, pods: readonly string[]): Promise<void> {
    await this.redis.hset(this.k.suspendedPods, app, JSON.stringify(pods));
  }

  async suspendedPods(app: string): Promise<string[]> {
    const raw = await this.redis.hget(this.k.suspendedPods, app);
    return raw ? (JSON.parse(raw) as string[]) : [];
  }

  async clearSuspended(app: string): Promise<void> {
    await this.redis.hdel(this.k.suspendedPods, app);
  }

  async remove(app: string): Promise<void> {
    await this.redis.multi().hdel(this.k.activity, app).hdel(this.k.suspendedPods, app).exec();
  }
}
