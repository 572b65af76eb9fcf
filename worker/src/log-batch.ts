import type { AppLogLine, Stores } from '@sidecar/store';

/** Lines waiting for Redis beyond this are dropped, oldest first. */
export const MAX_PENDING_LINES = 10_000;

/**
 * The lines one followed log has read but not yet stored, and the cursor that goes with them.
 * Flushed every `flushMs` and on close, one flush at a time; lines and cursor are written in one
 * transaction (`appLogs.append`), so a crash never repeats or skips lines. A failed flush (Redis
 * restarting) keeps its lines for the next one; beyond `maxPending` the oldest are dropped, so a
 * Redis outage cannot grow the worker's memory.
 */
export class LogBatch {
  private lines: Array<Omit<AppLogLine, 'id'>> = [];
  private cursor: Record<string, string> = {};
  private flushing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: {
      stores: Stores;
      app: string;
      flushMs?: number;
      maxPending?: number;
      onError: (e: unknown) => void;
    },
  ) {}

  /** Queues a line; `cursor` (field → value) is what the store records once it is written. */
  add(line: Omit<AppLogLine, 'id'>, cursor: Record<string, string>): void {
    this.lines.push(line);
    Object.assign(this.cursor, cursor);
    const max = this.opts.maxPending ?? MAX_PENDING_LINES;
    if (this.lines.length > max) this.lines = this.lines.slice(-max);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.opts.flushMs ?? 100);
  }

  /** Writes what is queued, after any flush in progress; a failure goes to `onError`, never to the caller. */
  flush(): Promise<void> {
    this.flushing = this.flushing
      .then(async () => {
        if (this.lines.length === 0) return;
        const lines = this.lines;
        const cursor = { ...this.cursor };
        this.lines = [];
        try {
          await this.opts.stores.appLogs.append(this.opts.app, lines, cursor);
        } catch (e) {
          this.lines = [...lines, ...this.lines].slice(-(this.opts.maxPending ?? MAX_PENDING_LINES));
          throw e;
        }
      })
      .catch(this.opts.onError);
    return this.flushing;
  }

  /**
   * Stops the timer and writes what is left, trying again (every `retryMs`) until it is stored or
   * `deadline` (epoch ms) has passed. True when everything was stored.
   */
  async drain(deadline: number, retryMs = 200): Promise<boolean> {
    clearInterval(this.timer);
    for (;;) {
      await this.flush();
      if (this.lines.length === 0) return true;
      if (Date.now() + retryMs > deadline) return false;
      await new Promise((r) => setTimeout(r, retryMs));
    }
  }

  /** Stops the timer and writes what is left (once; lines that still fail are logged and lost). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
