import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { connectRedis } from '@sidecar/store';
import { request } from './testing/clients.js';
import { startTestRouter, type TestRouter } from './testing/harness.js';

// RouteTable.declare through the real router: an app is known (503 no_ready_pod, its backend in HAProxy)
// before its first pod, so that pod's switch is only the pod's addition; routes it has are kept.
let t: TestRouter;
const redis = connectRedis(inject('redisUrl'));
beforeAll(async () => {
  t = await startTestRouter(inject('redisUrl'));
});
afterAll(async () => {
  await t.close();
  await redis.quit();
});

const hasEntry = async (app: string) => (await t.stores.routes.all()).routes.has(app);
const createdApp = (app: string) => redis.set(t.stores.keys.app(app), JSON.stringify({ name: app }));
const answer = async (app: string) => {
  const res = await request(t.port, `${app}.localhost`);
  return `${res.status} ${res.status === 200 ? res.body : (JSON.parse(res.body) as { code: string }).code}`;
};

describe('RouteTable.declare', () => {
  it('an app declared before its first pod gets 503 no_ready_pod, then serves once routed; its routes are kept', async () => {
    await createdApp('fresh');
    expect(await answer('fresh')).toBe('404 app_not_found');
    await t.stores.routes.declare('fresh');
    expect(await t.stores.routes.get('fresh')).toEqual([]);
    await expect.poll(() => answer('fresh'), { timeout: 10_000 }).toBe('503 no_ready_pod');

    const { pod, address } = await t.upstream((_req, res) => res.end('hello'));
    // set() waits for the router's acknowledgement, but gives up (and goes on) after a bound: poll.
    await t.route('fresh', [{ pod, address }]);
    await expect.poll(() => answer('fresh'), { timeout: 10_000 }).toBe('200 hello');
    await t.stores.routes.declare('fresh');
    expect(await t.stores.routes.get('fresh')).toEqual([{ pod, address }]);
    expect(await answer('fresh')).toBe('200 hello');
  });

  it('a declared app with scale to zero on and no release gets its 503 at once from HAProxy: nothing to wake', async () => {
    const doc = { name: 'unreleased', scaleToZero: { enabled: true, idleSeconds: 60 }, currentRelease: null };
    await redis.set(t.stores.keys.app('unreleased'), JSON.stringify(doc));
    await t.stores.routes.declare('unreleased');
    // The waker would answer only after its hold, saying the app did not wake.
    const said = async () => {
      const res = await request(t.port, 'unreleased.localhost');
      return `${res.status} ${(JSON.parse(res.body) as { detail: string }).detail}`;
    };
    await expect.poll(said, { timeout: 10_000 }).toBe('503 no pod of the app is ready');
  });

  it('an app that does not exist (removed meanwhile) is not declared', async () => {
    await t.stores.routes.declare('gone');
    expect(await hasEntry('gone')).toBe(false);
  });
});
