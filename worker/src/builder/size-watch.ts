import { setTimeout as delay } from 'node:timers/promises';
import { treeSize } from './tree-size.js';

/**
 * Pause between two measures of a folder being written. A measure walks the whole tree (a large
 * `node_modules` is tens of thousands of lstat calls), so the pause keeps the watch to a small share
 * of the worker's thread pool; what a writer adds within it is the overshoot past the limit.
 */
export const SIZE_WATCH_INTERVAL_MS = 1000;

export interface SizeWatch {
  /** Aborts the first time the folder measured more than the limit; its reason is the size seen. */
  readonly exceeded: AbortSignal;
  /** Stops measuring and waits for a measure in flight; rejects if a measure failed (not ENOENT). */
  stop(): Promise<void>;
}

/**
 * Measures `dir` (treeSize, stopping as soon as it passes `maxBytes`) every `intervalMs` after the
 * previous measure ended, until stopped or until it is larger than `maxBytes`: whoever writes into
 * it (an `npm install`) can be stopped while it writes, not only refused once it is done.
 */
export function watchTreeSize(opts: { dir: string; maxBytes: number; intervalMs?: number }): SizeWatch {
  const exceeded = new AbortController();
  const stopped = new AbortController();
  const interval = opts.intervalMs ?? SIZE_WATCH_INTERVAL_MS;
  // Settled with the measure's error rather than rejected: nobody awaits it until stop(), and an
  // unhandled rejection would end the worker.
  const loop = (async (): Promise<unknown> => {
    try {
      while (!stopped.signal.aborted) {
        const slept = await delay(interval, true, { signal: stopped.signal }).catch(() => false);
        if (!slept) return undefined;
        const size = await treeSize(opts.dir, { stopAbove: opts.maxBytes, whileWritten: true });
        if (size > opts.maxBytes) {
          exceeded.abort(size);
          return undefined;
        }
      }
      return undefined;
    } catch (err) {
      return err ?? new Error('the size watch failed');
    }
  })();
  return {
    exceeded: exceeded.signal,
    async stop() {
      stopped.abort();
      const failure = await loop;
      if (failure !== undefined) throw failure;
    },
  };
}
