import type { Redis } from 'ioredis';
import { computeTimings, type Deploy, DomainError, ErrorCode, isFinal } from '@sidecar/core';
import type { CasUpdater } from './cas.js';
import type { Keys } from './keys.js';

/** How many deploys (and their logs) are kept per app; older ones are trimmed. */
const KEEP_PER_APP = 100;

export class DeployStore {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
    private readonly cas: CasUpdater,
  ) {}

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
    if (!d || d.app !== app)
      throw new DomainError(ErrorCode.deployNotFound, `deploy "${id}" of app "${app}" not found`);
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
    const { value, applied } = await this.cas.update<Deploy>(this.k.deploy(id), (current) => {
      if (!current || isFinal(current.status)) return undefined;
      const merged = { ...current, ...change(current) };
      const next: Deploy = { ...merged, timings: computeTimings(merged) };
      return {
        next,
        also: (m) => {
          if (isFinal(next.status)) m.xadd(this.k.deployLog(id), '*', 'end', next.status);
        },
      };
    });
    if (!value) throw new DomainError(ErrorCode.deployNotFound, `deploy "${id}" not found`);
    return { deploy: value, applied };
  }

  /** Cancellation is a flag the worker polls at its checkpoints and a message that aborts running work. */
  async requestCancel(id: string): Promise<void> {
    await this.redis.multi().set(this.k.deployCancel(id), '1', 'EX', 86_400).publish(this.k.cancelChannel, id).exec();
  }

  /** Calls `onCancel(deployId)` for every cancel requested from now on; `subscriber` is a connection for SUBSCRIBE only. */
  async onCancel(subscriber: Redis, onCancel: (deployId: string) => void): Promise<void> {
    subscriber.on('message', (channel: string, id: string) => {
      if (channel === this.k.cancelChannel) onCancel(id);
    });
    await subscriber.subscribe(this.k.cancelChannel);
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
