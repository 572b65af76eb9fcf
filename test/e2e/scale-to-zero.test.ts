import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { createApp, deploy, waitForDeploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { eventually } from '../support/pods.js';

// Scale to zero through the whole platform (docs/scale-to-zero.md): an app idle for its idleSeconds is
// suspended and shown `idle`; the next requests are held by the router while it wakes, and none fails.
let p: RunningPlatform;
const APP = 'nap';
beforeAll(async () => {
  p = await startPlatform();
  await createApp(p, APP, { scaleToZero: { enabled: true, idleSeconds: 2 } });
  const v1 = await deploy(p, APP, await code('1'));
  if (v1.deploy.status !== 'succeeded') throw new Error(v1.log);
}, 180_000);
afterAll(async () => {
  await stopPlatform(p);
}, 120_000);

const code = (v: string) =>
  tgzOf({ 'index.js': `module.exports = (q, s) => s.end('v${v} ' + (process.env.GREETING || '-'));\n` });
const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

interface PodItem {
  name: string;
  ready: boolean;
  suspended?: { reason: string; memoryBytes: number | null };
}
const appOf = async () => (await (await p.api$(`/api/v1/apps/${APP}`)).json()) as { status: string };
const podsOf = async () => ((await (await p.api$(`/api/v1/apps/${APP}/pods`)).json()) as { items: PodItem[] }).items;

/** Waits (no traffic meanwhile) until the app was suspended; returns its pods then. */
async function untilIdle(): Promise<PodItem[]> {
  await eventually(
    'the app to become idle',
    async () => ((await appOf()).status === 'idle' ? true : undefined),
    60_000,
  );
  return eventually('its pods to be suspended', async () => {
    const pods = await podsOf();
    return pods.length > 0 && pods.every((x) => x.suspended?.reason === 'idle') ? pods : undefined;
  });
}

const newestDeployId = async () =>
  ((await (await p.api$(`/api/v1/apps/${APP}/deploys`)).json()).items[0] as { id: string }).id;

describe('scale to zero', () => {
  it('an app without traffic goes idle, its pods frozen with their memory reported; a request wakes it', async () => {
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v1 -' });
    const suspended = await untilIdle();
    expect(suspended).toHaveLength(1);
    // What a frozen pod keeps is measured once it is frozen.
    const measured = await eventually('the frozen pod memory', async () => {
      const [pod] = await podsOf();
      return pod?.suspended?.memoryBytes ?? undefined;
    });
    expect(measured).toBeGreaterThan(1024 * 1024);

    // The held request is answered by the woken pod.
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v1 -' });
    expect((await appOf()).status).toBe('running');
    const awake = await podsOf();
    expect(awake.map((x) => [x.name, x.ready, x.suspended])).toEqual([[suspended[0]!.name, true, undefined]]);
  }, 120_000);

  it('20 concurrent requests during a wake all succeed', async () => {
    await untilIdle();
    const answers = await Promise.all(Array.from({ length: 20 }, () => p.get(APP)));
    expect(answers.filter((a) => a.status !== 200 || a.body !== 'v1 -')).toEqual([]);
  }, 120_000);

  it('an idle app can be redeployed, reconfigured, rolled back and scaled', async () => {
    await untilIdle();
    const v2 = await deploy(p, APP, await code('2'));
    expect(v2.deploy.status, v2.log).toBe('succeeded');
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v2 -' });

    await untilIdle();
    expect(
      (await p.api$(`/api/v1/apps/${APP}`, { method: 'PATCH', ...json({ env: { GREETING: 'hi' } }) })).status,
    ).toBe(200);
    const config = await waitForDeploy(p, APP, await newestDeployId());
    expect(config.deploy.status, config.log).toBe('succeeded');
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v2 hi' });

    await untilIdle();
    const back = await p.api$(`/api/v1/apps/${APP}/rollback`, { method: 'POST', ...json({ version: 1 }) });
    expect(back.status).toBe(202);
    const rolled = await waitForDeploy(p, APP, ((await back.json()) as { id: string }).id);
    expect(rolled.deploy.status, rolled.log).toBe('succeeded');
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v1 -' });

    await untilIdle();
    expect((await p.api$(`/api/v1/apps/${APP}`, { method: 'PATCH', ...json({ replicas: 2 }) })).status).toBe(200);
    const scaled = await waitForDeploy(p, APP, await newestDeployId());
    expect(scaled.deploy.status, scaled.log).toBe('succeeded');
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v1 -' });
    // Both go idle, and both come back.
    expect(await untilIdle()).toHaveLength(2);
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v1 -' });
    expect((await podsOf()).map((x) => [x.ready, x.suspended])).toEqual([
      [true, undefined],
      [true, undefined],
    ]);
  }, 300_000);

  it('turned off while idle: the app wakes and stays awake', async () => {
    await untilIdle();
    const res = await p.api$(`/api/v1/apps/${APP}`, { method: 'PATCH', ...json({ scaleToZero: { enabled: false } }) });
    expect(((await res.json()) as { scaleToZero: unknown }).scaleToZero).toEqual({ enabled: false, idleSeconds: 2 });
    await eventually('the app to wake', async () => ((await appOf()).status === 'running' ? true : undefined));
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v1 -' });
  }, 120_000);

  it('settings out of bounds are refused with the limit named', async () => {
    const res = await p.api$(`/api/v1/apps/${APP}`, { method: 'PATCH', ...json({ scaleToZero: { idleSeconds: 0 } }) });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/idleSeconds/);
  });
});
