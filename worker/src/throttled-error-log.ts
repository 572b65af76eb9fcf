import { errorText, type Log } from '@sidecar/core';

/**
 * An error handler for a loop that may fail thousands of times a second: BullMQ's workers while Redis
 * refuses writes (its disk full: about 2,000 `queue error` lines a second were measured). Each distinct
 * error is logged, then again only after `windowMs` have passed, with how often it came meanwhile.
 */
export function throttledErrorLog(log: Log, msg: string, windowMs = 10_000): (err: unknown) => void {
  const seen = new Map<string, { at: number; repeats: number }>();
  return (err) => {
    const key = errorText(err);
    const now = Date.now();
    const last = seen.get(key);
    if (last && now - last.at < windowMs) {
      last.repeats++;
      return;
    }
    log.error({ err, ...(last ? { repeatsSinceLastLine: last.repeats } : {}) }, msg);
    // Bounded: errors that differ every time (ids in the text) must not grow the map for ever.
    if (seen.size >= 100 && !last) seen.clear();
    seen.set(key, { at: now, repeats: 0 });
  };
}
