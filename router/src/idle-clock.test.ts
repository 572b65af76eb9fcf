import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { request } from './testing/clients.js';
import { startTestRouter, type TestRouter } from './testing/harness.js';

// Scale to zero's idle clock (ActivitySampler) through the real router and HAProxy, across reloads that
// another tenant causes: creating an app reloads HAProxy, which must neither count as traffic for every
// app nor hide a connection the old worker still holds.
let t: TestRouter;
const token = 'idle-clock-test-token';
beforeAll(async () => {
  t = await startTestRouter(inject('redisUrl'), { SIDECAR_ADMIN_TOKEN: token });
});
afterAll(() => t.close());

/** A gauge's value for an app in the router's Prometheus metrics. */
const gauge = async (name: string, app: string) => {
  const text = await (
    await fetch(`http://127.0.0.1:${t.router.metricsPort}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  ).text();
  return new RegExp(`^${name}\\{app="${app}"\\} (\\d+)$`, 'm').exec(text)?.[1];
};
const lastActive = async (app: string) => (await t.stores.activity.lastActive([app])).get(app);

describe("the idle clock across another tenant's reload", () => {
  it('a reload does not count as traffic for an app that had some before it', async () => {
    const { pod, address } = await t.upstream((_req, res) => res.end('hello'));
    await t.route('quiet', [{ pod, address }]);
    await expect.poll(async () => (await request(t.port, 'quiet.localhost')).status, { timeout: 10_000 }).toBe(200);
    await t.router.flush();
    const served = await lastActive('quiet');
    expect(served).toBeDefined();

    await t.createApp('newcomer');
    await t.router.flush();
    await t.router.flush();
    expect(await lastActive('quiet')).toBe(served);

    // Traffic after the reload still counts.
    expect((await request(t.port, 'quiet.localhost')).status).toBe(200);
    await t.router.flush();
    expect(await lastActive('quiet')).toBeGreaterThan(served!);
  });

  it('a request still open on the replaced worker keeps its app busy and is counted: the old worker is read through the master', async () => {
    let answer: (() => void) | undefined;
    const { pod, address } = await t.upstream((req, res) => {
      if (req.url === '/hold') answer = () => res.end('late');
      else res.end('ok');
    });
    await t.route('streaming', [{ pod, address }]);
    await expect.poll(async () => (await request(t.port, 'streaming.localhost')).body, { timeout: 10_000 }).toBe('ok');
    const before = await t.router.haproxy.api.workerPid();
    const held = request(t.port, 'streaming.localhost', { path: '/hold' });
    await expect.poll(() => answer !== undefined, { timeout: 10_000 }).toBe(true);

    await t.createApp('second-newcomer');
    const old = (await t.router.haproxy.workers.backends()).find((w) => w.pid === before);
    expect(old?.rows.find((r) => r.pxname === 'app_streaming' && r.svname === 'BACKEND')?.scur).toBe('1');
    expect(await gauge('sidecar_router_open_connections', 'streaming')).toBe('1');

    // Each flush sees the open request, though the current worker has none for the app.
    await t.router.flush();
    const seen = await lastActive('streaming');
    await expect
      .poll(
        async () => {
          await t.router.flush();
          return lastActive('streaming');
        },
        { timeout: 5_000 },
      )
      .toBeGreaterThan(seen!);

    answer!();
    expect((await held).body).toBe('late');
    await expect
      .poll(async () => (await t.router.haproxy.workers.backends()).some((w) => w.pid === before), { timeout: 10_000 })
      .toBe(false);
  });
});
