import { appOfBackend } from './haproxy/render-config.js';

/** What the activity sampler reads: HAProxy's `show stat` rows. */
export interface StatsSource {
  stats(): Promise<Record<string, string>[]>;
}

/**
 * Which apps had traffic since the last sample, from HAProxy's counters (so it works with the request
 * log off too): a backend whose session total moved (a request came, or HAProxy reloaded) or that has a
 * session open now (a request in flight, a WebSocket, a stream). Scale to zero's idle clock (docs/scale-to-zero.md).
 */
export class ActivitySampler {
  private readonly totals = new Map<string, string>();

  constructor(private readonly source: StatsSource) {}

  /** The apps active since the previous call (the first call sees every app with sessions so far). */
  async sample(): Promise<string[]> {
    const active: string[] = [];
    for (const row of await this.source.stats()) {
      if (row.svname !== 'BACKEND') continue;
      const app = row.pxname === undefined ? undefined : appOfBackend(row.pxname);
      if (app === undefined) continue;
      const total = row.stot ?? '0';
      const moved = this.totals.has(app) ? this.totals.get(app) !== total : total !== '0';
      this.totals.set(app, total);
      if (moved || Number(row.scur ?? 0) > 0) active.push(app);
    }
    return active;
  }
}
