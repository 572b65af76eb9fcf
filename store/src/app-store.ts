import type { Redis } from 'ioredis';
import { type App, APP_DEFAULTS, DomainError, ErrorCode, quotaReached } from '@sidecar/core';
import type { CasUpdater } from './cas.js';
import type { Keys } from './keys.js';
import type { SecretBox } from './secret-box.js';

/** Where a sealed value belongs (its associated data): a ciphertext moved elsewhere does not open. */
const secretPlace = (app: string, key: string) => `app/${app}/secret/${key}`;
const tlsKeyPlace = (app: string) => `app/${app}/tls.key`;

/**
 * Creates an app unless it exists or its creator is at its quota, in one step (two requests of
 * one token racing for the last slot cannot both win). KEYS: app, apps index, the creator's apps,
 * owners. ARGV: document, name, creator's token id ('' for none), quota (-1: none).
 */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
local quota = tonumber(ARGV[4])
if quota >= 0 and redis.call('SCARD', KEYS[3]) >= quota then return 'quota' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
if ARGV[3] ~= '' then
  redis.call('SADD', KEYS[3], ARGV[2])
  redis.call('HSET', KEYS[4], ARGV[2], ARGV[3])
end
return 'ok'`;

/** Who creates an app: the token (by id) it counts against, and how many it may have (none: not counted). */
export interface AppCreator {
  tokenId: string;
  maxApps?: number;
}

/** Apps as JSON documents; the `apps` set is the index. */
export class AppStore {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
    private readonly cas: CasUpdater,
    /** Seals secret values at rest; without one (the router) apps cannot be read or written. */
    private readonly box: SecretBox | undefined,
  ) {}

  /** Secret values and a user-supplied TLS private key are sealed at rest. */
  private seal(app: App): App {
    const box = this.requireBox();
    return {
      ...this.mapKey(app, (v) => box.seal(v, tlsKeyPlace(app.name))),
      secrets: Object.fromEntries(
        Object.entries(app.secrets).map(([k, v]) => [k, box.seal(v, secretPlace(app.name, k))]),
      ),
    };
  }

  private open(stored: App): App {
    const box = this.requireBox();
    // Apps stored before a sidecar setting existed lack it: they get its default (`logs` on).
    const withDefaults = { ...stored, sidecars: { ...APP_DEFAULTS.sidecars, ...stored.sidecars } };
    return {
      ...this.mapKey(withDefaults, (v) => box.open(v, tlsKeyPlace(stored.name))),
      secrets: Object.fromEntries(
        Object.entries(stored.secrets).map(([k, v]) => [k, box.open(v, secretPlace(stored.name, k))]),
      ),
    };
  }

  private mapKey(app: App, f: (v: string) => string): App {
    // Apps stored before sidecars had settings of their own may lack them.
    const tls = app.sidecars?.tls;
    if (tls?.key === undefined) return app;
    return { ...app, sidecars: { ...app.sidecars, tls: { ...tls, key: f(tls.key) } } };
  }

  private requireBox(): SecretBox {
    if (!this.box) throw new Error('app store used without secret keys');
    return this.box;
  }

  /** Re-seals every app's secrets with the active key and associated data (key rotation, v1 values); returns how many moved. */
  async reseal(): Promise<number> {
    let moved = 0;
    for (const name of await this.redis.smembers(this.k.apps)) {
      await this.cas.update<App>(this.k.app(name), (stored) => {
        if (!stored) return undefined;
        const sealed = [
          ...Object.values(stored.secrets),
          ...(stored.sidecars?.tls?.key !== undefined ? [stored.sidecars.tls.key] : []),
        ];
        const stale = sealed.filter((v) => this.requireBox().isStale(v)).length;
        if (stale === 0) return undefined;
        moved += stale;
        return { next: this.seal(this.open(stored)) };
      });
    }
    return moved;
  }

  /**
   * Stores a new app. With a creator, the app counts toward that token's apps; with its `maxApps`,
   * a token that has that many already gets 429 `quota_exceeded` (SIDECAR_MAX_APPS_PER_TOKEN).
   */
  async create(app: App, creator?: AppCreator): Promise<App> {
    const result = await this.redis.eval(
      CREATE,
      4,
      this.k.app(app.name),
      this.k.apps,
      this.k.tokenApps(creator?.tokenId ?? ''),
      this.k.appOwners,
      JSON.stringify(this.seal(app)),
      app.name,
      creator?.tokenId ?? '',
      creator?.maxApps ?? -1,
    );
    if (result === 'exists') throw new DomainError(ErrorCode.appExists, `app "${app.name}" already exists`);
    if (result === 'quota')
      throw quotaReached(
        'maxAppsPerToken',
        `this token has created ${creator?.maxApps} apps, as many as one token may have: delete one first`,
      );
    return app;
  }

  /** How many apps a token created and has not deleted. */
  async countCreatedBy(tokenId: string): Promise<number> {
    return this.redis.scard(this.k.tokenApps(tokenId));
  }

  async find(name: string): Promise<App | null> {
    const raw = await this.redis.get(this.k.app(name));
    return raw ? this.open(JSON.parse(raw) as App) : null;
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
    return raws.filter((r): r is string => r !== null).map((r) => this.open(JSON.parse(r) as App));
  }

  /**
   * Every app's settings and state without opening its secrets (`secrets` and a TLS key are left out):
   * for loops that run often and need neither (the idle sweep).
   */
  async listSettings(): Promise<Omit<App, 'secrets'>[]> {
    const names = (await this.redis.smembers(this.k.apps)).sort();
    if (names.length === 0) return [];
    const raws = await this.redis.mget(names.map((n) => this.k.app(n)));
    return raws
      .filter((r): r is string => r !== null)
      .map((r) => {
        const { secrets: _secrets, ...app } = JSON.parse(r) as App;
        return this.mapKey({ ...app, secrets: {} }, () => '******');
      });
  }

  /** Read-modify-write that never loses a concurrent update's fields (see CasUpdater). */
  async update(name: string, change: (app: App) => App): Promise<App> {
    const { value } = await this.cas.update<App>(this.k.app(name), (stored) =>
      stored ? { next: this.seal(change(this.open(stored))) } : undefined,
    );
    if (!value) throw new DomainError(ErrorCode.appNotFound, `app "${name}" not found`);
    return this.open(value);
  }

  async delete(name: string): Promise<void> {
    const owner = await this.redis.hget(this.k.appOwners, name);
    const m = this.redis
      .multi()
      .del(this.k.app(name), this.k.appReleases(name), this.k.releaseSeq(name), this.k.appPods(name))
      .srem(this.k.apps, name)
      .hdel(this.k.appOwners, name);
    if (owner !== null) m.srem(this.k.tokenApps(owner), name);
    await m.exec();
  }
}
