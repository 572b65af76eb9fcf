import pLimit from 'p-limit';
import { appOfBackend } from './haproxy/render-config.js';
import type { WorkerStats } from './haproxy/workers.js';

/** What the activity sampler reads: every HAProxy worker's backend rows (haproxy/workers.ts). */
export interface StatsSource {
  backends(): Promise<Pick<WorkerStats, 'pid' | 'rows'>[]>;
}

/**
 * Which apps had traffic since the last sample, from HAProxy's counters (so it works with the request
 * log off too): a backend whose session total moved (a request came) or that has a session open now (a
 * request in flight, a WebSocket, a stream). Scale to zero's idle clock (docs/scale-to-zero.md).
 *
 * Counted per worker process. A reload starts a new worker counting from 0 and leaves the old one
 * finishing its connections; counting per pid, a reload is not traffic (any tenant's app creation,
 * deletion or settings change reloads: it must not keep every other app awake), and an app whose
 * WebSocket is held by an old worker is still seen as busy.
 */
export class ActivitySampler {
  /** Session totals already seen, by worker pid, then app. */
  private readonly totals = new Map<number, Map<string, string>>();
  private readonly seen = new Set<string>();

  constructor(private readonly source: StatsSource) {}

  /**
   * Reads the counters now and keeps what moved for the next sample(). HaproxyProcess calls it before a
   * reload, when the current worker may exit (no connection left) with counts no later read would find.
   */
  observe(): Promise<void> {
    return this.oneAtATime(() => this.read());
  }

  /** One read at a time: a read that began earlier and ended later would put back older totals. */
  private readonly oneAtATime = pLimit(1);

  private async read(): Promise<void> {
    const workers = await this.source.backends();
    for (const { pid, rows } of workers) {
      // A worker first seen counts from its start: a new worker's total is traffic it served.
      const before = this.totals.get(pid);
      const now = new Map<string, string>();
      for (const row of rows) {
        if (row.svname !== 'BACKEND') continue;
        const app = row.pxname === undefined ? undefined : appOfBackend(row.pxname);
        if (app === undefined) continue;
        const total = row.stot ?? '0';
        now.set(app, total);
        if ((before?.get(app) ?? '0') !== total || Number(row.scur ?? 0) > 0) this.seen.add(app);
      }
      this.totals.set(pid, now);
    }
    const alive = new Set(workers.map((w) => w.pid));
    for (const pid of this.totals.keys()) if (!alive.has(pid)) this.totals.delete(pid);
  }

  /** The apps active since the previous call (the first call sees every app with sessions so far). */
  async sample(): Promise<string[]> {
    await this.observe();
    const active = [...this.seen];
    this.seen.clear();
    return active;
  }
}
