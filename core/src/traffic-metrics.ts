/**
 * Pure: an app's traffic in 10-second buckets, as the router counts it and the API reports it
 * (`GET /apps/:app/metrics`). Latencies are kept as counts per fixed bound, so buckets from
 * several routers and several intervals add up and percentiles come from the sum.
 */

export const METRICS_BUCKET_SECONDS = 10;
/** How long buckets are kept: the API answers at most this far back. */
export const METRICS_RETENTION_MINUTES = 24 * 60;

/** Upper bounds (ms) of the latency counts; the last count is everything slower. */
export const LATENCY_BOUNDS_MS = [
  1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000, 30_000,
  60_000,
] as const;

/** One bucket's counts as stored: field → count (`requests`, `2xx`…`5xx`, `bytesIn`, `bytesOut`, `l0`…`lN`). */
export type BucketCounts = Record<string, number>;

export const StatusClass = { '2xx': '2xx', '3xx': '3xx', '4xx': '4xx', '5xx': '5xx' } as const;
export type StatusClass = (typeof StatusClass)[keyof typeof StatusClass];

/** 1xx (an upgrade's 101) counts with 2xx: the request succeeded. */
export function statusClass(status: number): StatusClass {
  if (status >= 500) return '5xx';
  if (status >= 400) return '4xx';
  if (status >= 300) return '3xx';
  return '2xx';
}

/** The field names of the latency counts, made once: a request is counted without making a string. */
const LATENCY_FIELDS = Array.from({ length: LATENCY_BOUNDS_MS.length + 1 }, (_, i) => `l${i}`);

export function latencyField(ms: number): string {
  return LATENCY_FIELDS[bucketIndex(LATENCY_BOUNDS_MS, ms)]!;
}

/**
 * A histogram bucket of `value`: the index of the first upper bound it does not exceed (bounds are
 * inclusive, as Prometheus' `le`), or `bounds.length` for everything above the last.
 */
export function bucketIndex(bounds: readonly number[], value: number): number {
  let i = 0;
  while (i < bounds.length && value > bounds[i]!) i++;
  return i;
}

/** Adds one request to a bucket's counts. */
export function countRequest(
  into: BucketCounts,
  r: { status: number; durationMs: number; bytesIn: number; bytesOut: number },
): void {
  const add = (f: string, n: number) => (into[f] = (into[f] ?? 0) + n);
  add('requests', 1);
  add(statusClass(r.status), 1);
  add('bytesIn', r.bytesIn);
  add('bytesOut', r.bytesOut);
  add(latencyField(r.durationMs), 1);
}

/** The q-quantile (0–1) of the latency counts, as the upper bound of its bucket (ms); null without requests. */
export function latencyPercentile(counts: BucketCounts, q: number): number | null {
  const per = Array.from({ length: LATENCY_BOUNDS_MS.length + 1 }, (_, i) => counts[`l${i}`] ?? 0);
  const total = per.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < per.length; i++) {
    seen += per[i]!;
    if (seen >= rank) return LATENCY_BOUNDS_MS[i] ?? LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]! * 2;
  }
  return null;
}

export interface TrafficSummary {
  requests: { total: number; '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  bytes: { in: number; out: number };
  /** One point per bucket, oldest first; a bucket without traffic is a point with zeros. */
  series: { time: string; requests: number; errors: number; p50Ms: number | null; p95Ms: number | null }[];
}

/** Buckets (start time in s → counts) over [fromSec, toSec) → the API's answer. */
export function summarize(buckets: ReadonlyMap<number, BucketCounts>, fromSec: number, toSec: number): TrafficSummary {
  const total: BucketCounts = {};
  const series: TrafficSummary['series'] = [];
  const first = Math.floor(fromSec / METRICS_BUCKET_SECONDS) * METRICS_BUCKET_SECONDS;
  for (let t = first; t < toSec; t += METRICS_BUCKET_SECONDS) {
    const b = buckets.get(t) ?? {};
    for (const [f, n] of Object.entries(b)) total[f] = (total[f] ?? 0) + n;
    series.push({
      time: new Date(t * 1000).toISOString(),
      requests: b.requests ?? 0,
      errors: b['5xx'] ?? 0,
      p50Ms: latencyPercentile(b, 0.5),
      p95Ms: latencyPercentile(b, 0.95),
    });
  }
  return {
    requests: {
      total: total.requests ?? 0,
      '2xx': total['2xx'] ?? 0,
      '3xx': total['3xx'] ?? 0,
      '4xx': total['4xx'] ?? 0,
      '5xx': total['5xx'] ?? 0,
    },
    latencyMs: {
      p50: latencyPercentile(total, 0.5),
      p95: latencyPercentile(total, 0.95),
      p99: latencyPercentile(total, 0.99),
    },
    bytes: { in: total.bytesIn ?? 0, out: total.bytesOut ?? 0 },
    series,
  };
}
