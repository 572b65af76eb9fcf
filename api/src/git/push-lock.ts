import type { Redis } from 'ioredis';

const TTL_MS = 30_000;
const POLL_MS = 250;

// Only the holder (by its random value) may extend or release the lock.
const EXTEND =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * One deploying push per app at a time, across API processes: SET NX with a TTL that the holder
 * keeps extending, so a crashed API frees the app within TTL_MS instead of leaving a stale lock.
 */
export class PushLock {
  constructor(
    private readonly redis: Redis,
    private readonly keyFor: (app: string) => string,
  ) {}

  /** Waits up to waitMs (calling onWait once if it has to wait); null when the lock stayed taken or the signal fired. */
  async acquire(opts: {
    app: string;
    holder: string;
    waitMs: number;
    signal: AbortSignal;
    onWait: () => void;
  }): Promise<HeldLock | null> {
    const key = this.keyFor(opts.app);
    const deadline = Date.now() + opts.waitMs;
    let waited = false;
    while (!opts.signal.aborted) {
      if ((await this.redis.set(key, opts.holder, 'PX', TTL_MS, 'NX')) === 'OK') {
        const lock = this.held(key, opts.holder);
        // The push went away while SET was in flight: nobody would release this lock.
        if (opts.signal.aborted) {
          await lock.release();
          return null;
        }
        return lock;
      }
      if (Date.now() >= deadline) return null;
      if (!waited) opts.onWait();
      waited = true;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return null;
  }

  private held(key: string, holder: string): HeldLock {
    const timer = setInterval(() => {
      this.redis.eval(EXTEND, 1, key, holder, TTL_MS).catch(() => undefined);
    }, TTL_MS / 3);
    timer.unref();
    let released: Promise<void> | undefined;
    return {
      release: () =>
        (released ??= (async () => {
          clearInterval(timer);
          await this.redis.eval(RELEASE, 1, key, holder);
        })()),
    };
  }
}
