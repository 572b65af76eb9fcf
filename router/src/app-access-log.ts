import type { AppLogStore } from '@sidecar/store';
import { type AccessLine, detached, NO_POD, parseAccessLine } from './access-log.js';

/** At most this many access lines per app per second: a flood of requests cannot flood the app's log. */
const MAX_LINES_PER_SECOND = 500;

/**
 * The access log as the app's owner reads it: `GET /apps/:app/logs?container=router`, in the same
 * store as the app's own output (container `router`, the answering pod, one JSON line per request).
 * Written in one batch per app per flush; past the cap a line says how many requests were not logged.
 */
export class AppAccessLog {
  /**
   * Each app's lines since the last flush, as HAProxy wrote them: parsed at the flush, at most maxPerFlush of
   * them. They are slices of the reads they came in, kept alive with them until then (2 s).
   */
  private pending = new Map<string, { lines: string[]; dropped: number }>();

  private readonly maxPerFlush: number;

  /** `flushMs`: how often flush() is called (the cap counts per flush). */
  constructor(
    private readonly logs: AppLogStore,
    private readonly flushMs: number,
  ) {
    this.maxPerFlush = Math.max(1, Math.round((MAX_LINES_PER_SECOND * flushMs) / 1000));
  }

  record(r: AccessLine): void {
    let p = this.pending.get(r.app);
    if (!p) this.pending.set(detached(r.app), (p = { lines: [], dropped: 0 }));
    if (p.lines.length < this.maxPerFlush) p.lines.push(r.line);
    else p.dropped++;
  }

  async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    for (const [app, { lines, dropped }] of batch) {
      const entries = lines
        .flatMap((l) => parseAccessLine(l) ?? [])
        .map((r) => ({
          time: new Date(r.time).toISOString(),
          pod: r.pod === NO_POD ? 'router' : r.pod,
          container: 'router',
          release: '',
          stream: 'stdout' as const,
          line: JSON.stringify({
            method: r.method,
            path: r.path,
            status: r.status,
            durationMs: r.durationMs,
            bytesIn: r.bytesIn,
            bytesOut: r.bytesOut,
            requestId: r.requestId,
            client: r.client,
            term: r.term,
          }),
        }));
      if (dropped > 0)
        entries.push({
          time: new Date().toISOString(),
          pod: 'router',
          container: 'router',
          release: '',
          stream: 'stdout',
          line: JSON.stringify({
            notLogged: dropped,
            reason: `more than ${this.maxPerFlush} requests in ${this.flushMs / 1000} s`,
          }),
        });
      await this.logs.append(app, entries);
    }
  }
}
