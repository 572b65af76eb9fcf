import type { Redis } from 'ioredis';
import { DomainError, ErrorCode, type Job, quotaReached } from '@sidecar/core';
import type { Keys } from './keys.js';

const KEEP_PER_APP = 100;

/**
 * Stores a new job unless its app has `max` jobs that have not ended, in one step (requests
 * racing for the last slot cannot both win). KEYS: the job, the app's jobs, its active jobs.
 * ARGV: document, id, score, max (-1: none). Returns how many were active when refused, else -1.
 */
const CREATE = `
local max = tonumber(ARGV[4])
local active = redis.call('SCARD', KEYS[3])
if max >= 0 and active >= max then return active end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
return -1`;

const isFinal = (status: Job['status']) => status === 'succeeded' || status === 'failed';

/** One-off jobs as JSON documents, indexed per app by creation time. */
export class JobStore {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
  ) {}

  /**
   * Stores a pending job. With `maxActive`, an app that has that many jobs pending or running
   * gets 429 `quota_exceeded` (SIDECAR_MAX_JOBS_PER_APP) instead.
   */
  async create(job: Job, opts: { maxActive?: number } = {}): Promise<Job> {
    const refused = Number(
      await this.redis.eval(
        CREATE,
        3,
        this.k.job(job.id),
        this.k.appJobs(job.app),
        this.k.appActiveJobs(job.app),
        JSON.stringify(job),
        job.id,
        Date.parse(job.createdAt),
        opts.maxActive ?? -1,
      ),
    );
    if (refused >= 0)
      throw quotaReached(
        'maxJobsPerApp',
        `app "${job.app}" has ${refused} jobs pending or running, as many as an app may have at once: wait for one to end`,
      );
    // Never trims a job that has not ended: the active ones are far fewer than KEEP_PER_APP.
    const old = await this.redis.zrange(this.k.appJobs(job.app), 0, -(KEEP_PER_APP + 1));
    if (old.length)
      await this.redis
        .multi()
        .zrem(this.k.appJobs(job.app), ...old)
        .srem(this.k.appActiveJobs(job.app), ...old)
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

  /** A job that ended is never changed again; ending frees its place among the app's active jobs. */
  async update(id: string, change: Partial<Job>): Promise<Job | null> {
    const job = await this.find(id);
    if (!job || isFinal(job.status)) return job;
    const next = { ...job, ...change };
    const m = this.redis.multi().set(this.k.job(id), JSON.stringify(next));
    if (isFinal(next.status)) m.srem(this.k.appActiveJobs(job.app), id);
    await m.exec();
    return next;
  }

  async removeApp(app: string): Promise<void> {
    const ids = await this.redis.zrange(this.k.appJobs(app), 0, -1);
    await this.redis.del(this.k.appJobs(app), this.k.appActiveJobs(app), ...ids.map((id) => this.k.job(id)));
  }
}
