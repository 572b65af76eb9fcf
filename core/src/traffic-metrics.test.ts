import { describe, expect, it } from 'vitest';
import {
  type BucketCounts,
  countRequest,
  LATENCY_BOUNDS_MS,
  bucketIndex,
  latencyField,
  latencyPercentile,
  statusClass,
  summarize,
} from './traffic-metrics.js';

describe('traffic metrics', () => {
  it('classes statuses, an upgrade counting as success', () => {
    expect([101, 200, 304, 404, 502].map(statusClass)).toEqual(['2xx', '2xx', '3xx', '4xx', '5xx']);
  });

  it('counts a latency under the first bound it does not exceed; past the last, in the last count', () => {
    expect([0, 1, 1.01, 2, 60_000, 60_001, Infinity].map(latencyField)).toEqual([
      'l0',
      'l0',
      'l1',
      'l1',
      `l${LATENCY_BOUNDS_MS.length - 1}`,
      `l${LATENCY_BOUNDS_MS.length}`,
      `l${LATENCY_BOUNDS_MS.length}`,
    ]);
  });

  it('finds a bucket by the first upper bound not exceeded (inclusive, as le), past the last at the end', () => {
    expect([0, 0.5, 0.51, 1, 1.5, 2, 3].map((v) => bucketIndex([0.5, 1, 2], v))).toEqual([0, 0, 1, 1, 2, 2, 3]);
    expect(bucketIndex([], 7)).toBe(0);
  });

  it('takes percentiles from the latency counts as bucket upper bounds', () => {
    const b: BucketCounts = {};
    for (let i = 0; i < 90; i++) countRequest(b, { status: 200, durationMs: 4, bytesIn: 1, bytesOut: 2 });
    for (let i = 0; i < 10; i++) countRequest(b, { status: 500, durationMs: 800, bytesIn: 1, bytesOut: 2 });
    expect(latencyPercentile(b, 0.5)).toBe(5);
    expect(latencyPercentile(b, 0.95)).toBe(1000);
    expect(latencyPercentile({}, 0.5)).toBeNull();
  });

  it('sums buckets and gives one point per 10 s, empty ones included', () => {
    const a: BucketCounts = {};
    const c: BucketCounts = {};
    countRequest(a, { status: 200, durationMs: 1, bytesIn: 10, bytesOut: 20 });
    countRequest(c, { status: 503, durationMs: 12, bytesIn: 5, bytesOut: 7 });
    const s = summarize(
      new Map([
        [1000, a],
        [1020, c],
      ]),
      1000,
      1030,
    );
    expect(s.requests).toEqual({ total: 2, '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 1 });
    expect(s.bytes).toEqual({ in: 15, out: 27 });
    expect(s.series.map((p) => [p.requests, p.errors])).toEqual([
      [1, 0],
      [0, 0],
      [1, 1],
    ]);
    expect(s.series[0]!.time).toBe(new Date(1_000_000).toISOString());
  });
});
