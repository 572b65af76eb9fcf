import type { StreamHub } from './stream-hub.js';

/**
 * Pages of a Redis stream after `after`, then new pages as they are written, until `signal` aborts.
 * An empty page means "nothing new for a while" (the caller may send a keep-alive or check that what
 * it follows still exists). The caller's pace sets the reading pace: nothing is read ahead for it.
 */
export async function* followStream<T extends { id: string }>(o: {
  hub: StreamHub;
  key: string;
  after: string;
  signal: AbortSignal;
  read: (after: string) => Promise<T[]>;
}): AsyncGenerator<T[]> {
  let cursor = o.after;
  while (!o.signal.aborted) {
    const page = await o.read(cursor);
    if (page.length > 0) {
      cursor = page.at(-1)!.id;
      yield page;
      continue;
    }
    const more = await o.hub.waitForMore(o.key, cursor, { signal: o.signal });
    if (!more && !o.signal.aborted) yield [];
  }
}
