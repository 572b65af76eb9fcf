import type { Redis } from 'ioredis';

const TTL_MS = 30_000;
const POLL_MS = 250;

// Only the owner (by its value) may renew or release: a lock that expired and was taken by
// another owner is never extended or deleted by the old one.
const RENEW =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export interface HeldLock {
  /** Aborts if the lock was lost (expired while Redis or this process stalled, and maybe taken by another owner). */
  readonly lost: AbortSignal;
  /** Releases the lock if this owner still holds it. Safe twice. */
  release(): Promise<void>;
}

/**
 * A mutual exclusion lock in Redis: SET NX PX with an owner value, renewed by compare-and-renew every
 * third of its TTL while held, released by compare-and-delete. A holder that dies frees the lock
 * within the TTL; a holder whose renewal finds another owner (or no lock), or that was itself stalled
 * longer than the TTL since Redis last confirmed its lock, learns it through `lost`.
 */
export class RedisLock {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly ttlMs = TTL_MS,
  ) {}

  /** Takes the lock for `owner` now, or null when someone else holds it. The same owner may take it again. */
  async tryAcquire(owner: string): Promise<HeldLock | null> {
    const ok =
      (await this.redis.set(this.key, owner, 'PX', this.ttlMs, 'NX')) === 'OK' ||
      // A retried job of the same owner (its worker died) continues under its own lock.
      (await this.redis.eval(RENEW, 1, this.key, owner, this.ttlMs)) === 1;
    return ok ? this.held(owner) : null;
  }

  /** Waits up to waitMs (calling onWait once if it has to wait); null when it stayed taken or the signal fired. */
  async acquire(opts: {
    owner: string;
    waitMs: number;
    signal: AbortSignal;
    onWait?: () => void;
  }): Promise<HeldLock | null> {
    const deadline = Date.now() + opts.waitMs;
    let waited = false;
    while (!opts.signal.aborted) {
      const lock = await this.tryAcquire(opts.owner);
      if (lock) {
        // The caller went away while SET was in flight: nobody would release this lock.
        if (opts.signal.aborted) {
          await lock.release();
          return null;
        }
        return lock;
      }
      if (Date.now() >= deadline) return null;
      if (!waited) opts.onWait?.();
      waited = true;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return null;
  }

  private held(owner: string): HeldLock {
    const lost = new AbortController();
    const lose = (why: string) => {
      clearInterval(timer);
      lost.abort(new Error(`lock ${this.key} was lost (${why})`));
    };
    // When Redis last confirmed the lock: it expires at most ttlMs after that.
    let confirmedAt = Date.now();
    const timer = setInterval(() => {
      // A process that stalled (SIGSTOP, a paused VM) wakes with its timers overdue: this runs before any
      // I/O that came in meanwhile is handled, so a holder past its TTL stops before it acts on the lock
      // again (e.g. switches routes), instead of after a renewal's round trip.
      if (Date.now() - confirmedAt >= this.ttlMs) return lose(`this process stalled past its ${this.ttlMs} ms TTL`);
      this.redis.eval(RENEW, 1, this.key, owner, this.ttlMs).then(
        (renewed) => {
          if (renewed === 1) confirmedAt = Date.now();
          else if (!lost.signal.aborted) lose('it expired and another owner may hold it');
        },
        // Redis unreachable: try again at the next tick; the TTL still protects the others.
        () => undefined,
      );
    }, this.ttlMs / 3);
    timer.unref();
    let released: Promise<void> | undefined;
    return {
      lost: lost.signal,
      release: () =>
        (released ??= (async () => {
          clearInterval(timer);
          await this.redis.eval(RELEASE, 1, this.key, owner);
        })()),
    };
  }
}
