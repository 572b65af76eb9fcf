import type { Metric, Registry } from 'prom-client';
import { bucketIndex, statusClass, type StatusClass } from '@sidecar/core';
import type { AccessSummary } from './access-log.js';

/**
 * An app's traffic since the router started, in plain numbers. Counting a request is a few
 * additions: prom-client's `inc` and `observe` look up their series by hashing the labels on every
 * call, one of the largest items of the router's CPU time per request at the data plane's rates
 * (docs/router.md). Prometheus reads the totals when it scrapes (TrafficMetrics).
 */
export class AppTotals {
  readonly requests: Record<StatusClass, number> = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  bytesIn = 0;
  bytesOut = 0;
  /** Requests per bucket of DURATION_BOUNDS_S (not cumulative); the last is everything slower. */
  readonly durations: number[] = new Array<number>(DURATION_BOUNDS_S.length + 1).fill(0);
  durationSum = 0;

  add(r: AccessSummary): void {
    this.requests[statusClass(r.status)]++;
    this.bytesIn += r.bytesIn;
    this.bytesOut += r.bytesOut;
    const seconds = r.durationMs / 1000;
    this.durations[bucketIndex(DURATION_BOUNDS_S, seconds)]!++;
    this.durationSum += seconds;
  }
}

/** Upper bounds (seconds) of the request-duration histogram's buckets. */
export const DURATION_BOUNDS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/**
 * A Prometheus histogram read from the apps' totals when scraped, in the shape prom-client's own
 * histograms give the registry (`_bucket` by `le`, cumulative, then `_sum` and `_count`). prom-client
 * has no histogram whose buckets can be set, only `observe` one value at a time.
 */
export function registerTotalsHistogram(
  registry: Registry,
  opts: { name: string; help: string; totals: () => Iterable<[string, AppTotals]> },
): void {
  const collector = {
    name: opts.name,
    help: opts.help,
    type: 'histogram',
    aggregator: 'sum',
    get: () => {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const [app, t] of opts.totals()) {
        let cumulative = 0;
        DURATION_BOUNDS_S.forEach((le, i) => {
          cumulative += t.durations[i]!;
          values.push({ labels: { app, le }, value: cumulative, metricName: `${opts.name}_bucket` });
        });
        const count = cumulative + t.durations[DURATION_BOUNDS_S.length]!;
        values.push({ labels: { app, le: '+Inf' }, value: count, metricName: `${opts.name}_bucket` });
        values.push({ labels: { app }, value: t.durationSum, metricName: `${opts.name}_sum` });
        values.push({ labels: { app }, value: count, metricName: `${opts.name}_count` });
      }
      return Promise.resolve({ name: opts.name, help: opts.help, type: 'histogram', aggregator: 'sum', values });
    },
  };
  // The registry calls `get()` of what it holds; its types list only prom-client's own classes.
  registry.registerMetric(collector as unknown as Metric);
}
