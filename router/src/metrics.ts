import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { type BucketCounts, countRequest, METRICS_BUCKET_SECONDS, StatusClass } from '@sidecar/core';
import type { AppTrafficStore } from '@sidecar/store';
import { type AccessSummary, detached } from './access-log.js';
import { AppTotals, registerTotalsHistogram } from './app-totals.js';
import { appOfBackend, TABLE_UPGRADED } from './haproxy/render-config.js';
import type { HaproxyWorkers } from './haproxy/workers.js';

/** Pending bucket counts are dropped beyond this many apps × buckets (Redis away for long). */
const MAX_PENDING_BUCKETS = 50_000;

/**
 * Per-app traffic: Prometheus metrics on the router (requests by status class, latency, bytes,
 * open and upgraded connections) and 10-second buckets written to Redis in one batch per flush,
 * which the API reads for `GET /apps/:app/metrics`.
 */
export class TrafficMetrics {
  readonly registry = new Registry();
  private pending = new Map<string, Map<number, BucketCounts>>();
  /** What the Prometheus metrics of requests report, counted as plain numbers (app-totals.ts). */
  private readonly totals = new Map<string, AppTotals>();

  constructor(
    private readonly opts: { workers: Pick<HaproxyWorkers, 'backends' | 'tableCounts'>; traffic: AppTrafficStore },
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'sidecar_router_process_' });
    const totals = this.totals;
    new Counter({
      name: 'sidecar_router_requests_total',
      help: 'Requests to apps through the router, by status class (1xx counts as 2xx)',
      labelNames: ['app', 'class'],
      registers,
      collect() {
        this.reset();
        for (const [app, t] of totals)
          for (const c of Object.values(StatusClass)) this.inc({ app, class: c }, t.requests[c]);
      },
    });
    registerTotalsHistogram(this.registry, {
      name: 'sidecar_router_request_duration_seconds',
      help: 'Time from the request accepted to the response sent (HAProxy %Ta)',
      totals: () => totals,
    });
    new Counter({
      name: 'sidecar_router_bytes_total',
      help: 'Bytes from clients (in) and to clients (out), headers included',
      labelNames: ['app', 'direction'],
      registers,
      collect() {
        this.reset();
        for (const [app, t] of totals) {
          this.inc({ app, direction: 'in' }, t.bytesIn);
          this.inc({ app, direction: 'out' }, t.bytesOut);
        }
      },
    });
    const workers = opts.workers;
    new Gauge({
      name: 'sidecar_router_open_connections',
      help: "Requests and upgraded connections in progress to the app's pods",
      labelNames: ['app'],
      registers,
      async collect() {
        this.reset();
        // Every worker's: after a reload the old one keeps the connections it had.
        for (const { rows } of await workers.backends().catch(() => []))
          for (const row of rows) {
            const app = appOfBackend(row.pxname ?? '');
            if (app && row.svname === 'BACKEND') this.inc({ app }, Number(row.scur));
          }
      },
    });
    new Gauge({
      name: 'sidecar_router_upgraded_connections',
      help: 'Upgraded connections (WebSockets) open to the app',
      labelNames: ['app'],
      registers,
      async collect() {
        this.reset();
        for (const [app, n] of await workers.tableCounts(TABLE_UPGRADED).catch(() => new Map<string, number>()))
          this.set({ app }, n);
      },
    });
  }

  record(r: AccessSummary): void {
    let totals = this.totals.get(r.app);
    if (!totals) this.totals.set(detached(r.app), (totals = new AppTotals()));
    totals.add(r);
    const bucket = Math.floor(r.time / 1000 / METRICS_BUCKET_SECONDS) * METRICS_BUCKET_SECONDS;
    let buckets = this.pending.get(r.app);
    if (!buckets) this.pending.set(detached(r.app), (buckets = new Map()));
    let counts = buckets.get(bucket);
    if (!counts) {
      if (this.pendingBuckets() >= MAX_PENDING_BUCKETS) return;
      buckets.set(bucket, (counts = {}));
    }
    countRequest(counts, r);
  }

  /** Writes what was counted since the last flush; on failure keeps it for the next one. */
  async flush(): Promise<void> {
    const batch = this.pending;
    if (batch.size === 0) return;
    this.pending = new Map();
    try {
      await this.opts.traffic.add(batch);
    } catch (e) {
      for (const [app, buckets] of batch)
        for (const [bucket, counts] of buckets) {
          let mine = this.pending.get(app);
          if (!mine) this.pending.set(app, (mine = new Map()));
          const into = mine.get(bucket) ?? {};
          for (const [f, n] of Object.entries(counts)) into[f] = (into[f] ?? 0) + n;
          mine.set(bucket, into);
        }
      throw e;
    }
  }

  private pendingBuckets(): number {
    let n = 0;
    for (const b of this.pending.values()) n += b.size;
    return n;
  }
}

/**
 * `GET /metrics` in the Prometheus text format, on loopback only, and with the admin token when
 * one is configured (the launcher always sets one).
 */
export async function serveMetrics(opts: {
  registry: Registry;
  port: number;
  token: string | undefined;
}): Promise<{ port: number; close(): void }> {
  const server = http.createServer((req, res) => {
    if (opts.token !== undefined && !sameSecret(req.headers.authorization ?? '', `Bearer ${opts.token}`)) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('admin token required\n');
      return;
    }
    if (req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    opts.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(opts.port, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

/** Compares a presented secret in constant time (no timing hint of how much of it was right). */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
