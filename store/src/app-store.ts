import type { Redis } from 'ioredis';
import { type App, DomainError, ErrorCode } from '@sidecar/core';
import type { CasUpdater } from './cas.js';
import type { Keys } from './keys.js';

/** Apps as JSON documents; the `apps` set is the index. */
export class AppStore {
  constructor(private readonly redis: Redis, private readonly k: Keys, private readonly cas: CasUpdater) {}

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

  /** Read-modify-write that never loses a concurrent update's fields (see CasUpdater). */
  async update(name: string, change: (app: App) => App): Promise<App> {
    const { value } = await this.cas.update<App>(this.k.app(name), (app) => (app ? { next: change(app) } : undefined));
    if (!value) throw new DomainError(ErrorCode.appNotFound, `app "${name}" not found`);
    return value;
  }

  async delete(name: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.k.app(name), this.k.appReleases(name), this.k.releaseSeq(name), this.k.appPods(name))
      .srem(this.k.apps, name)
      .exec();
  }
}
