import type { Redis } from 'ioredis';
import { DomainError, ErrorCode, type Job } from '@sidecar/core';
import type { Keys } from './keys.js';

const KEEP_PER_APP = 100;

/** One-off jobs as JSON documents, indexed per app by creation time. */
export class JobStore {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
  ) {}

  async create(job: Job): Promise<Job> {
    await this.redis
      .multi()
      .set(this.k.job(job.id), JSON.stringify(job))
      .zadd(this.k.appJobs(job.app), Date.parse(job.createdAt), job.id)
      .exec();
    const old = await this.redis.zrange(this.k.appJobs(job.app), 0, -(KEEP_PER_APP + 1));
    if (old.length)
      await this.redis
        .multi()
        .zrem(this.k.appJobs(job.app), ...old)
        .del(...old.map((id) => this.k.job(id)))
        .exec();
    return job;
  }

  async find(id: string): Promise<Job | null> {
    const raw = await this.redis.get(this.k.job(id));
    return raw ? (JSON.parse(raw) as Job) : null;
  }

  async get(app: string, id: string): Promise<Job> {
    const job = await this.find(id);
    if (!job || job.app !== app) throw new DomainError(ErrorCode.jobNotFound, `job "${id}" of app "${app}" not found`);
    return job;
  }

  async list(app: string): Promise<Job[]> {
    const ids = await this.redis.zrevrange(this.k.appJobs(app), 0, -1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.k.job(id)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as Job);
  }

  /** A job that ended is never changed again. */
  async update(id: string, change: Partial<Job>): Promise<Job | null> {
    const job = await this.find(id);
    if (!job || job.status === 'succeeded' || job.status === 'failed') return job;
    const next = { ...job, ...change };
    await this.redis.set(this.k.job(id), JSON.stringify(next));
    return next;
  }

  async removeApp(app: string): Promise<void> {
    const ids = await this.redis.zrange(this.k.appJobs(app), 0, -1);
    await this.redis.del(this.k.appJobs(app), ...ids.map((id) => this.k.job(id)));
  }
}
