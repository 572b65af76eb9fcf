import type { Redis } from 'ioredis';

const TTL_MS = 30_000;

/**
 * A per-app mutual exclusion lock in Redis, owned by one deploy id, renewed
 * while held, released only by its owner (compare-and-delete). If the worker
 * dies, the lock expires and another worker takes over.
 */
export class AppLock {
  private renew: NodeJS.Timeout | undefined;
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly owner: string,
  ) {}

  async acquire(): Promise<boolean> {
    const ok =
      (await this.redis.set(this.key, this.owner, 'PX', TTL_MS, 'NX')) === 'OK' ||
      (await this.redis.get(this.key)) === this.owner;
    if (ok) {
      this.renew = setInterval(() => void this.redis.pexpire(this.key, TTL_MS).catch(() => undefined), TTL_MS / 3);
      this.renew.unref();
    }
    return ok;
  }

  async release(): Promise<void> {
    clearInterval(this.renew);
    await this.redis.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
      1,
      this.key,
      this.owner,
    );
  }
}
