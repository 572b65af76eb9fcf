import type { Redis } from 'ioredis';
import { DomainError, ErrorCode, type Release } from '@sidecar/core';
import type { Keys } from './keys.js';

/** The reserved number if it is still the counter's last one, else the next one (atomically). */
const KEEP_OR_NEXT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return tonumber(ARGV[1]) end
return redis.call('INCR', KEYS[1])`;

/** Releases are immutable; versions come from a per-app counter. */
export class ReleaseStore {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
  ) {}

  /**
   * Takes the app's next version number for a release whose record comes later (its pod starts during
   * the build). A build that then fails or is cancelled leaves a gap in the versions.
   */
  reserve(app: string): Promise<number> {
    return this.redis.incr(this.k.releaseSeq(app));
  }

  /**
   * Records a release under a new version, or under the one reserve() took for it when no release took a
   * number since. Otherwise it gets a new one: a release made meanwhile (a config change or a rollback during
   * the build) must not outrank the code being recorded now, which carries the app's settings as they are now.
   */
  async create(release: Omit<Release, 'version'>, reserved?: number): Promise<Release> {
    const key = this.k.releaseSeq(release.app);
    const version =
      reserved === undefined
        ? await this.redis.incr(key)
        : Number(await this.redis.eval(KEEP_OR_NEXT, 1, key, String(reserved)));
    const full: Release = { ...release, version };
    await this.redis.hset(this.k.appReleases(release.app), String(version), JSON.stringify(full));
    return full;
  }

  async get(app: string, version: number): Promise<Release> {
    const raw = await this.redis.hget(this.k.appReleases(app), String(version));
    if (!raw) throw new DomainError(ErrorCode.releaseNotFound, `app "${app}" has no release v${version}`);
    return JSON.parse(raw) as Release;
  }

  async markPruned(app: string, version: number): Promise<void> {
    const r = await this.get(app, version);
    await this.redis.hset(this.k.appReleases(app), String(version), JSON.stringify({ ...r, imagePruned: true }));
  }

  /**
   * Keeps the records of the newest `keepNewest` releases and of `alsoKeep` (the current one); older
   * records go (their images went long before: only the newest SIDECAR_KEEP_RELEASES keep theirs, so
   * nothing older can be rolled back to). Returns how many were removed.
   */
  async retain(app: string, opts: { keepNewest: number; alsoKeep: Array<number | null> }): Promise<number> {
    const versions = (await this.redis.hkeys(this.k.appReleases(app))).map(Number).sort((a, b) => b - a);
    const keep = new Set([...versions.slice(0, opts.keepNewest), ...opts.alsoKeep]);
    const gone = versions.filter((v) => !keep.has(v));
    if (gone.length > 0) await this.redis.hdel(this.k.appReleases(app), ...gone.map(String));
    return gone.length;
  }

  /** Newest first. */
  async list(app: string): Promise<Release[]> {
    const all = await this.redis.hvals(this.k.appReleases(app));
    return all.map((r) => JSON.parse(r) as Release).sort((a, b) => b.version - a.version);
  }
}
