import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { summarize } from '@sidecar/core';
import { request, until } from './testing/clients.js';
import { startTestRouter, type TestRouter } from './testing/harness.js';
import type { AccessRecord } from './access-log.js';

// What the router counts and logs, checked against what this test sent through it.
let t: TestRouter;
const seen: AccessRecord[] = [];
const token = 'router-metrics-test-token';

beforeAll(async () => {
  // The access log kept as a file too, as by default.
  t = await startTestRouter(inject('redisUrl'), { SIDECAR_ADMIN_TOKEN: token, SIDECAR_ROUTER_ACCESS_LOG: 'file' });
  t.router.onAccess((r) => seen.push(r));
  const up = await t.upstream((req, res) => {
    const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status') ?? 200);
    res.writeHead(status).end('x'.repeat(100));
  }, 'counted-pod');
  await t.route('counted', [up]);
  await t.route('filed', [{ ...up, pod: 'filed-pod' }]);
});
afterAll(() => t.close());

const scrape = (headers: Record<string, string> = {}) =>
  fetch(`http://127.0.0.1:${t.router.metricsPort}/metrics`, { headers });

/**
 * The router's access log file, each line parsed (a line that is not whole JSON fails the test); none
 * before the router has made the file (it does at its first line).
 */
const accessFile = () =>
  !existsSync(join(t.dataDir, 'router', 'access.log'))
    ? []
    : readFileSync(join(t.dataDir, 'router', 'access.log'), 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('per-app metrics and access log', () => {
  it("keeps the access log in the router's data directory, a JSON line per request", async () => {
    for (const path of ['/a', '/b?q=1', '/c'])
      expect((await request(t.port, 'filed.localhost', { path })).status).toBe(200);
    const ours = () => accessFile().filter((r) => r.app === 'filed');
    await until(() => ours().length === 3, 'the three requests in the file');
    expect(ours().map((r) => [r.msg, r.method, r.path, r.status, r.pod])).toEqual([
      ['access', 'GET', '/a', 200, 'filed-pod'],
      ['access', 'GET', '/b', 200, 'filed-pod'],
      ['access', 'GET', '/c', 200, 'filed-pod'],
    ]);
  });

  it('logs a request with a long path as a whole JSON line, the path cut at 1 KiB, and counts it', async () => {
    const path = `/${'%22x'.repeat(2000)}`;
    expect((await request(t.port, 'filed.localhost', { path: `${path}?q=1` })).status).toBe(200);
    const long = () => accessFile().filter((r) => r.app === 'filed' && String(r.path).startsWith('/%22x'));
    await until(() => long().length === 1, 'the long request in the file');
    expect(long()[0]!.path).toBe(path.slice(0, 1024));
    expect(long()[0]!.status).toBe(200);
    await until(
      () => seen.some((r) => r.app === 'filed' && r.path === path.slice(0, 1024)),
      'the long request counted',
    );
  });

  it('counts what was sent: by status class, bytes, latency; in Prometheus, in Redis, and in the app log', async () => {
    const statuses = [200, 200, 200, 302, 404, 500, 503];
    for (const status of statuses)
      expect((await request(t.port, 'counted.localhost', { path: `/?status=${status}` })).status).toBe(status);
    await until(() => seen.filter((r) => r.app === 'counted').length === statuses.length, 'every request logged');

    const text = await (await scrape({ authorization: `Bearer ${token}` })).text();
    expect(text).toContain('sidecar_router_requests_total{app="counted",class="2xx"} 3');
    expect(text).toContain('sidecar_router_requests_total{app="counted",class="3xx"} 1');
    expect(text).toContain('sidecar_router_requests_total{app="counted",class="4xx"} 1');
    expect(text).toContain('sidecar_router_requests_total{app="counted",class="5xx"} 2');
    expect(text).toContain('sidecar_router_request_duration_seconds_count{app="counted"} 7');
    expect(text).toContain('sidecar_router_request_duration_seconds_bucket{app="counted",le="+Inf"} 7');
    const out = /sidecar_router_bytes_total\{app="counted",direction="out"\} (\d+)/.exec(text);
    expect(Number(out?.[1])).toBeGreaterThanOrEqual(7 * 100);

    await t.router.flush();
    const now = Date.now() / 1000;
    const summary = summarize(await t.stores.appTraffic.range('counted', now - 600, now + 10), now - 600, now + 10);
    expect(summary.requests).toEqual({ total: 7, '2xx': 3, '3xx': 1, '4xx': 1, '5xx': 2 });
    expect(summary.series.reduce((n, p) => n + p.errors, 0)).toBe(2);
    expect(summary.latencyMs.p50).not.toBeNull();

    const lines = await t.stores.appLogs.tail('counted', { n: 100, keep: (l) => l.container === 'router' });
    expect(lines).toHaveLength(7);
    const first = JSON.parse(lines[0]!.line) as Record<string, unknown>;
    expect(lines[0]!.pod).toBe('counted-pod');
    expect(first).toMatchObject({ method: 'GET', path: '/', status: 200 });
    expect(first.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves Prometheus metrics only with the admin token', async () => {
    expect((await scrape()).status).toBe(401);
    expect((await scrape({ authorization: 'Bearer wrong' })).status).toBe(401);
  });
});
