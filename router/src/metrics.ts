import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type BucketCounts, countRequest, METRICS_BUCKET_SECONDS, type StatusClass, statusClass } from '@sidecar/core';
import type { AppTrafficStore } from '@sidecar/store';
import type { AccessRecord } from './access-log.js';
import { appOfBackend, TABLE_UPGRADED } from './haproxy/render-config.js';
import type { RuntimeApi } from './haproxy/runtime-api.js';

/** Pending bucket counts are dropped beyond this many apps × buckets (Redis away for long). */
const MAX_PENDING_BUCKETS = 50_000;

interface AppSeries {
  requests: Record<StatusClass, { inc(n?: number): void }>;
  duration: { observe(seconds: number): void };
  bytesIn: { inc(n: number): void };
  bytesOut: { inc(n: number): void };
}

/**
 * Per-app traffic: Prometheus metrics on the router (requests by status class, latency, bytes,
 * open and upgraded connections) and 10-second buckets written to Redis in one batch per flush,
 * which the API reads for `GET /apps/:app/metrics`.
 */
export class TrafficMetrics {
  readonly registry = new Registry();
  private pending = new Map<string, Map<number, BucketCounts>>();
  private readonly requests: Counter<'app' | 'class'>;
  private readonly duration: Histogram<'app'>;
  private readonly bytes: Counter<'app' | 'direction'>;
  /** Each app's children of the metrics above: prom-client hashes the labels on every call made with them. */
  private readonly perApp = new Map<string, AppSeries>();

  constructor(private readonly opts: { api: RuntimeApi; traffic: AppTrafficStore }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'sidecar_router_process_' });
    this.requests = new Counter({
      name: 'sidecar_router_requests_total',
      help: 'Requests to apps through the router, by status class (1xx counts as 2xx)',
      labelNames: ['app', 'class'],
      registers,
    });
    this.duration = new Histogram({
      name: 'sidecar_router_request_duration_seconds',
      help: 'Time from the request accepted to the response sent (HAProxy %Ta)',
      labelNames: ['app'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.bytes = new Counter({
      name: 'sidecar_router_bytes_total',
      help: 'Bytes from clients (in) and to clients (out), headers included',
      labelNames: ['app', 'direction'],
      registers,
    });
    const api = opts.api;
    new Gauge({
      name: 'sidecar_router_open_connections',
      help: "Requests and upgraded connections in progress to the app's pods",
      labelNames: ['app'],
      registers,
      async collect() {
        this.reset();
        for (const row of await api.stats().catch(() => [])) {
          const app = appOfBackend(row.pxname ?? '');
          if (app && row.svname === 'BACKEND') this.set({ app }, Number(row.scur));
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
        for (const [app, n] of await api.tableCounts(TABLE_UPGRADED).catch(() => new Map<string, number>()))
          this.set({ app }, n);
      },
    });
  }

  record(r: AccessRecord): void {
    const series = this.seriesOf(r.app);
    series.requests[statusClass(r.status)].inc();
    series.duration.observe(r.durationMs / 1000);
    series.bytesIn.inc(r.bytesIn);
    series.bytesOut.inc(r.bytesOut);
    const bucket = Math.floor(r.time / 1000 / METRICS_BUCKET_SECONDS) * METRICS_BUCKET_SECONDS;
    let buckets = this.pending.get(r.app);
    if (!buckets) this.pending.set(r.app, (buckets = new Map()));
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

  private seriesOf(app: string): AppSeries {
    let series = this.perApp.get(app);
    if (!series) {
      const byClass = (c: StatusClass) => this.requests.labels({ app, class: c });
      series = {
        requests: { '2xx': byClass('2xx'), '3xx': byClass('3xx'), '4xx': byClass('4xx'), '5xx': byClass('5xx') },
        duration: this.duration.labels({ app }),
        bytesIn: this.bytes.labels({ app, direction: 'in' }),
        bytesOut: this.bytes.labels({ app, direction: 'out' }),
      };
      this.perApp.set(app, series);
    }
    return series;
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
