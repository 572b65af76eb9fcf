import type { Redis } from 'ioredis';
import { type App, DomainError, ErrorCode } from '@sidecar/core';
import type { Keys } from './keys.js';

/** Apps as JSON documents; the `apps` set is the index. */
export class AppStore {
  constructor(private readonly redis: Redis, private readonly k: Keys) {}

  async create(app: App): Promise<App> {
    const ok = await this.redis.set(this.k.app(app.name), JSON.stringify(app), 'NX');
    if (ok !== 'OK') throw new DomainError(ErrorCode.appExists, `app "${app.name}" already exists`);
    await this.redis.sadd(this.k.apps, app.name);
    return app;
  }

  async find(name: string): Promise<App | null> {
    const raw = await this.redis.get(this.k.app(name));
    return raw ? (JSON.parse(raw) as App) : null;
  }

  async get(name: string): Promise<App> {
    const app = await this.find(name);
    if (!app) throw new DomainError(ErrorCode.appNotFound, `app "${name}" not found`);
    return app;
  }

  async list(): Promise<App[]> {
    const names = (await this.redis.smembers(this.k.apps)).sort();
    if (names.length === 0) return [];
    const raws = await this.redis.mget(names.map((n) => this.k.app(n)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as App);
  }

  /** Read-modify-write under WATCH so concurrent updates never lose each other's fields. */
  async update(name: string, change: (app: App) => App): Promise<App> {
    const key = this.k.app(name);
    for (let attempt = 0; attempt < 20; attempt++) {
      await this.redis.watch(key);
      const raw = await this.redis.get(key);
      if (!raw) {
        await this.redis.unwatch();
        throw new DomainError(ErrorCode.appNotFound, `app "${name}" not found`);
      }
      const next = change(JSON.parse(raw) as App);
      const res = await this.redis.multi().set(key, JSON.stringify(next)).exec();
      if (res) return next;
    }
    throw new DomainError(ErrorCode.internal, `app "${name}" is being changed too often; try again`, { retryable: true });
  }

  async delete(name: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.k.app(name), this.k.appReleases(name), this.k.releaseSeq(name), this.k.appPods(name))
      .srem(this.k.apps, name)
      .exec();
  }
}
