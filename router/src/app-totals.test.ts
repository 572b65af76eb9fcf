import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AppTotals, DURATION_BOUNDS_S, registerTotalsHistogram } from './app-totals.js';

const request = (durationMs: number, status = 200) => ({
  time: 0,
  app: 'shop',
  status,
  durationMs,
  bytesIn: 10,
  bytesOut: 20,
});

/** A scrape's sample lines as `name{labels sorted} value`: label order is not part of the format's meaning. */
const samples = (text: string) =>
  text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\w+)(?:\{(.*)\})? (.+)$/.exec(l)!;
      const labels = (m[2] ?? '').split(',').filter(Boolean).sort().join(',');
      return `${m[1]}{${labels}} ${Number(m[3])}`;
    })
    .sort();

describe("an app's totals as Prometheus reads them", () => {
  it('exposes the same histogram as prom-client would have after observing each request', async () => {
    const durationsMs = [0, 0.4, 1, 3, 7.5, 10, 99, 250, 2000, 59_999, 60_000, 60_001, 3_600_000];
    const totals = new Map([['shop', new AppTotals()]]);
    const ours = new Registry();
    registerTotalsHistogram(ours, { name: 'd_seconds', help: 'h', totals: () => totals });
    const theirs = new Registry();
    const reference = new Histogram({
      name: 'd_seconds',
      help: 'h',
      labelNames: ['app'],
      buckets: [...DURATION_BOUNDS_S],
      registers: [theirs],
    });
    for (const ms of durationsMs) {
      totals.get('shop')!.add(request(ms));
      reference.observe({ app: 'shop' }, ms / 1000);
    }
    expect(samples(await ours.metrics())).toEqual(samples(await theirs.metrics()));
    expect(await ours.metrics()).toContain(`d_seconds_count{app="shop"} ${durationsMs.length}`);
  });

  it('counts requests by status class (1xx with 2xx) and bytes both ways', () => {
    const t = new AppTotals();
    for (const status of [101, 200, 204, 301, 404, 429, 500, 503, 504]) t.add(request(1, status));
    expect(t.requests).toEqual({ '2xx': 3, '3xx': 1, '4xx': 2, '5xx': 3 });
    expect([t.bytesIn, t.bytesOut]).toEqual([90, 180]);
  });
});
