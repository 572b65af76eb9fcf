import type { Redis } from 'ioredis';

/** A stream entry as Redis returns it: id and a flat field/value list. */
export type RawEntry = [id: string, fields: string[]];

/** How long a blocking read waits before it is issued again (and how often idle followers wake up). */
const BLOCK_MS = 15_000;
const RETRY_MS = 1000;

interface Watch {
  /** The newest id the hub knows of: its blocking read asks for what comes after. */
  latest: string;
  wakers: Set<() => void>;
}

/**
 * One blocking reader per process for every follower of every Redis stream (deploy logs, app logs):
 * followers cost no connection of their own. The hub only tells followers that a stream has grown;
 * each follower reads its own range (non-blocking, on the shared connection) at its own pace, so a
 * slow client never holds back another, and nothing is buffered for it beyond one page.
 */
export class StreamHub {
  private readonly watches = new Map<string, Watch>();
  private readonly blocking: Redis;
  private blockingId: number | undefined;
  private loop: Promise<void> | undefined;
  private reading = false;
  /** A stream was added since the blocking read in flight was issued. */
  private dirty = false;
  private closed = false;

  constructor(private readonly redis: Redis) {
    // XREAD BLOCK holds the connection it runs on: the hub's own, made lazily.
    this.blocking = redis.duplicate({ lazyConnect: true, commandTimeout: undefined, maxRetriesPerRequest: null });
  }

  /**
   * Resolves when `key` has entries after `afterId` (at once if it has them already), after
   * `timeoutMs`, or when `signal` aborts. True when there is more to read. The caller reads the
   * entries itself and calls again.
   */
  async waitForMore(key: string, afterId: string, opts: { signal: AbortSignal; timeoutMs?: number }): Promise<boolean> {
    if (this.closed || opts.signal.aborted) return false;
    const watch = await this.watch(key);
    if (compareIds(watch.latest, afterId) > 0) return true;
    return new Promise<boolean>((resolve) => {
      const done = (more: boolean) => {
        clearTimeout(timer);
        watch.wakers.delete(wake);
        opts.signal.removeEventListener('abort', stop);
        if (watch.wakers.size === 0) this.unwatch(key, watch);
        resolve(more);
      };
      const wake = () => done(!this.closed);
      const stop = () => done(false);
      const timer = setTimeout(stop, opts.timeoutMs ?? BLOCK_MS);
      opts.signal.addEventListener('abort', stop, { once: true });
      watch.wakers.add(wake);
    });
  }

  /** Followers waiting now (for limits and metrics). */
  get waiting(): number {
    let n = 0;
    for (const w of this.watches.values()) n += w.wakers.size;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watches.values()) for (const wake of [...w.wakers]) wake();
    this.blocking.disconnect();
    await this.loop?.catch(() => undefined);
  }

  private async watch(key: string): Promise<Watch> {
    const known = this.watches.get(key);
    if (known) return known;
    // From the newest entry now: the caller compares it with its own cursor, later ones wake it.
    const [last] = await this.redis.xrevrange(key, '+', '-', 'COUNT', 1);
    const raced = this.watches.get(key);
    if (raced) return raced;
    const watch: Watch = { latest: last?.[0] ?? '0-0', wakers: new Set() };
    this.watches.set(key, watch);
    this.dirty = true;
    this.loop ??= this.run();
    void this.interrupt();
    return watch;
  }

  private unwatch(key: string, watch: Watch): void {
    if (this.watches.get(key) === watch) this.watches.delete(key);
  }

  /**
   * Ends the XREAD in flight so the loop reissues it with the new set of streams. CLIENT UNBLOCK can
   * arrive before the XREAD it targets does; then it is retried (bounded) until it lands.
   */
  private async interrupt(): Promise<void> {
    for (let i = 0; i < 100 && this.dirty && !this.closed; i++) {
      if (this.reading && this.blockingId !== undefined) {
        const n = await this.redis.call('CLIENT', 'UNBLOCK', String(this.blockingId)).catch(() => 0);
        if (n === 1) return;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async run(): Promise<void> {
    while (!this.closed && this.watches.size > 0) {
      this.dirty = false;
      const keys = [...this.watches.keys()];
      const ids = keys.map((k) => this.watches.get(k)!.latest);
      try {
        this.blockingId ??= Number(await this.blocking.call('CLIENT', 'ID'));
        this.reading = true;
        const res = (await this.blocking.xread('COUNT', 1, 'BLOCK', BLOCK_MS, 'STREAMS', ...keys, ...ids)) as Array<
          [string, RawEntry[]]
        > | null;
        this.reading = false;
        for (const [key, entries] of res ?? []) {
          const watch = this.watches.get(key);
          const newest = entries.at(-1)?.[0];
          if (!watch || !newest) continue;
          // Every waiter re-reads from its own cursor; the hub only needs to know where the stream is now.
          const [last] = await this.redis.xrevrange(key, '+', '-', 'COUNT', 1);
          watch.latest = last?.[0] ?? newest;
          for (const wake of [...watch.wakers]) wake();
        }
      } catch {
        this.reading = false;
        this.blockingId = undefined;
        if (this.closed) break;
        // Redis went away: followers wake on their own timeout; try again shortly.
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
    this.loop = undefined;
    // A watch added while the loop was ending starts a new one.
    if (!this.closed && this.watches.size > 0) this.loop = this.run();
  }
}

/** Orders two stream ids (`<ms>-<seq>`). */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}
