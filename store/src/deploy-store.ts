import type { Redis } from 'ioredis';
import { computeTimings, type Deploy, DomainError, ErrorCode, isFinal } from '@sidecar/core';
import type { Keys } from './keys.js';

/** How many deploys (and their logs) are kept per app; older ones are trimmed. */
const KEEP_PER_APP = 100;

export class DeployStore {
  constructor(private readonly redis: Redis, private readonly k: Keys) {}

  async create(deploy: Deploy): Promise<Deploy> {
    await this.redis
      .multi()
      .set(this.k.deploy(deploy.id), JSON.stringify(deploy))
      .zadd(this.k.appDeploys(deploy.app), Date.parse(deploy.createdAt), deploy.id)
      .exec();
    await this.trim(deploy.app);
    return deploy;
  }

  async find(id: string): Promise<Deploy | null> {
    const raw = await this.redis.get(this.k.deploy(id));
    return raw ? (JSON.parse(raw) as Deploy) : null;
  }

  async get(app: string, id: string): Promise<Deploy> {
    const d = await this.find(id);
    if (!d || d.app !== app) throw new DomainError(ErrorCode.deployNotFound, `deploy "${id}" of app "${app}" not found`);
    return d;
  }

  /** Newest first. */
  async list(app: string): Promise<Deploy[]> {
    const ids = await this.redis.zrevrange(this.k.appDeploys(app), 0, -1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.k.deploy(id)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as Deploy);
  }

  /**
   * Applies a change unless the deploy already ended: a final status is never
   * overwritten (a late worker cannot resurrect a cancelled deploy). Returns the
   * stored deploy and whether the change was applied.
   */
  async update(id: string, change: (d: Deploy) => Partial<Deploy>): Promise<{ deploy: Deploy; applied: boolean }> {
    const key = this.k.deploy(id);
    for (let attempt = 0; attempt < 20; attempt++) {
      await this.redis.watch(key);
      const raw = await this.redis.get(key);
      if (!raw) {
        await this.redis.unwatch();
        throw new DomainError(ErrorCode.deployNotFound, `deploy "${id}" not found`);
      }
      const current = JSON.parse(raw) as Deploy;
      if (isFinal(current.status)) {
        await this.redis.unwatch();
        return { deploy: current, applied: false };
      }
      const merged = { ...current, ...change(current) };
      const next: Deploy = { ...merged, timings: computeTimings(merged) };
      const multi = this.redis.multi().set(key, JSON.stringify(next));
      if (isFinal(next.status)) multi.xadd(this.k.deployLog(id), '*', 'end', next.status);
      if (await multi.exec()) return { deploy: next, applied: true };
    }
    throw new DomainError(ErrorCode.internal, `deploy "${id}" is being changed too often`, { retryable: true });
  }

  /** Cancellation is a flag the worker polls at its checkpoints and a message that aborts running work. */
  async requestCancel(id: string): Promise<void> {
    await this.redis.multi().set(this.k.deployCancel(id), '1', 'EX', 86_400).publish(this.k.cancelChannel, id).exec();
  }

  async isCancelRequested(id: string): Promise<boolean> {
    return (await this.redis.exists(this.k.deployCancel(id))) === 1;
  }

  async removeApp(app: string): Promise<void> {
    const ids = await this.redis.zrange(this.k.appDeploys(app), 0, -1);
    const keys = ids.flatMap((id) => [this.k.deploy(id), this.k.deployLog(id), this.k.deployCancel(id)]);
    await this.redis.del(this.k.appDeploys(app), ...keys);
  }

  private async trim(app: string): Promise<void> {
    const old = await this.redis.zrange(this.k.appDeploys(app), 0, -(KEEP_PER_APP + 1));
    if (old.length === 0) return;
    await this.redis
      .multi()
      .zrem(this.k.appDeploys(app), ...old)
      .del(...old.flatMap((id) => [this.k.deploy(id), this.k.deployLog(id)]))
      .exec();
  }
}
