import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuilt, launchChromium, screenshotPath } from '../support/browser.js';
import { tgzOf } from '../support/bundles.js';
import { createApp, deploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { eventually } from '../support/pods.js';

// An app's traffic as its owner sees it: the metrics JSON, the router's access lines in the app's
// logs, and the dashboard's Metrics tab, after requests sent through the router by this test.
let p: RunningPlatform;
let browser: Browser;
beforeAll(async () => {
  ensureWebBuilt();
  [p, browser] = await Promise.all([startPlatform(), launchChromium()]);
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await stopPlatform(p);
}, 120_000);

interface Metrics {
  requests: { total: number; '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  series: { time: string; requests: number; errors: number; p50Ms: number | null; p95Ms: number | null }[];
}

describe("an app's traffic", () => {
  it('is counted, logged for the owner, and charted on the dashboard', async () => {
    await createApp(p, 'traffic');
    const bundle = await tgzOf({
      'index.js':
        "module.exports = (q, s) => { s.statusCode = q.url === '/missing' ? 404 : q.url === '/fail' ? 500 : 200; s.end('t'); };",
    });
    const d = await deploy(p, 'traffic', bundle);
    expect(d.deploy.status, d.log).toBe('succeeded');
    const paths = [...Array<string>(6).fill('/'), '/missing', '/missing', '/fail'];
    for (const path of paths) await p.get('traffic', path);

    const m = await eventually(
      'the requests in the metrics',
      async () => {
        const body = (await (await p.api$('/api/v1/apps/traffic/metrics?minutes=10')).json()) as Metrics;
        return body.requests.total >= paths.length ? body : undefined;
      },
      20_000,
    );
    // The deploy's own readiness checks go to the pod directly, not through the router: only ours count.
    expect(m.requests).toEqual({ total: 9, '2xx': 6, '3xx': 0, '4xx': 2, '5xx': 1 });
    expect(m.series).toHaveLength(60);
    expect(m.series.reduce((n, s) => n + s.errors, 0)).toBe(1);
    expect(m.latencyMs.p50).not.toBeNull();

    const logs = (await (
      await p.api$('/api/v1/apps/traffic/logs?container=router&tail=50', {
        headers: { accept: 'application/json' },
      })
    ).json()) as { items: { container: string; line: string }[] };
    const lines = logs.items.map((l) => JSON.parse(l.line) as { path: string; status: number; requestId: string });
    expect(lines.map((l) => `${l.path} ${l.status}`)).toEqual(
      paths.map((x) => `${x} ${x === '/' ? 200 : x === '/fail' ? 500 : 404}`),
    );
    for (const l of lines) expect(l.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${p.api}/`);
    await page.getByLabel('API token').fill(p.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The token is kept only once the API has accepted it: navigating before that lands on sign-in again.
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
    await page.goto(`${p.api}/apps/traffic/metrics`);
    await page.getByRole('term').filter({ hasText: 'Requests' }).waitFor();
    expect(await page.getByRole('definition').first().textContent()).toBe('9');
    for (const chart of ['Requests per second', 'Latency', 'Error rate (5xx)'])
      await page.getByRole('figure', { name: chart }).locator('canvas').waitFor();
    const path = await screenshotPath('app-metrics');
    if (path) await page.screenshot({ path, fullPage: true });
    await page.close();
  }, 150_000);
});
