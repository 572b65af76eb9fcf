import type { Redis } from 'ioredis';
import type { PodView } from '@sidecar/core';
import type { Keys } from './keys.js';

/** The worker publishes its pods' statuses here; the API reads them (it never talks to Docker). */
export class PodViewStore {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
  ) {}

  async put(app: string, view: PodView): Promise<void> {
    await this.redis.hset(this.k.appPods(app), view.name, JSON.stringify(view));
  }

  async remove(app: string, pod: string): Promise<void> {
    await this.redis.hdel(this.k.appPods(app), pod);
  }

  async list(app: string): Promise<PodView[]> {
    const all = await this.redis.hvals(this.k.appPods(app));
    return all.map((r) => JSON.parse(r) as PodView).sort((a, b) => a.name.localeCompare(b.name));
  }
}
