import { rmSync } from 'node:fs';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Labels } from '@sidecar/core';
import { PLATFORM_LABEL } from '@sidecar/kubelet';
import { tgzOf } from '../support/bundles.js';
import { createApp, deploy, waitForDeploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { routerHttpsGet, type RunningPlatform, startPlatform } from '../support/platform.js';
import { eventually } from '../support/pods.js';

// Scale to zero through the whole platform (docs/scale-to-zero.md): an app idle for its idleSeconds is
// suspended and shown `idle`; the next requests are held by the router while it wakes, and none fails.
let p: RunningPlatform;
const APP = 'nap';
const docker = new Docker();
beforeAll(async () => {
  p = await startPlatform();
  await createApp(p, APP, { scaleToZero: { enabled: true, idleSeconds: 2 } });
  const v1 = await deploy(p, APP, await code('1'));
  if (v1.deploy.status !== 'succeeded') throw new Error(v1.log);
}, 180_000);
afterAll(async () => {
  await stopPlatform(p);
  // After a restart the platform runs on a data dir it was given, which its stop keeps.
  rmSync(p.dataDir, { recursive: true, force: true, maxRetries: 3 });
}, 120_000);

const code = (v: string) =>
  tgzOf({ 'index.js': `module.exports = (q, s) => s.end('v${v} ' + (process.env.GREETING || '-'));\n` });
const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

interface PodItem {
  name: string;
  release: number | null;
  ready: boolean;
  suspended?: { reason: string; memoryBytes: number | null };
}
const appOf = async () => (await (await p.api$(`/api/v1/apps/${APP}`)).json()) as { status: string };
const podsOf = async () => ((await (await p.api$(`/api/v1/apps/${APP}/pods`)).json()) as { items: PodItem[] }).items;
/**
 * The pods of the app's current release. After a redeploy the replaced release's pods are listed too: frozen
 * for a rollback (`suspended.reason` "warm", docs/architecture.md), or, after a platform restart, being
 * stopped (a new worker cannot take warm pods back) — apart from going idle and waking.
 */
async function currentPodsOf(): Promise<PodItem[]> {
  const { currentRelease } = (await (await p.api$(`/api/v1/apps/${APP}`)).json()) as { currentRelease: number };
  return (await podsOf()).filter((x) => x.release === currentRelease);
}

/** Waits (no traffic meanwhile) until the app was suspended; returns its pods then. */
async function untilIdle(): Promise<PodItem[]> {
  await eventually(
    'the app to become idle',
    async () => ((await appOf()).status === 'idle' ? true : undefined),
    60_000,
  );
  return eventually('its pods to be suspended', async () => {
    const pods = await currentPodsOf();
    return pods.length > 0 && pods.every((x) => x.suspended?.reason === 'idle') ? pods : undefined;
  });
}

const httpsGet = async (app: string, ca: string) => {
  const { status, body } = await routerHttpsGet(p.routerTlsPort, app, ca);
  return { status, body };
};

/** Stops the platform (its data kept), runs `meanwhile`, and starts it again on the same ports. */
async function restart(meanwhile?: () => Promise<void>): Promise<void> {
  const { dataDir, platformId, routerPort } = p;
  const apiPort = Number(new URL(p.api).port);
  await p.stop({ keepData: true });
  await meanwhile?.();
  p = await startPlatform({}, { dataDir, platformId, apiPort, routerPort });
}

/**
 * Waits until the app is running with every pod awake and ready; returns the pods' names, sorted. Each look
 * sends a request: the app's idle clock (2 s) must not suspend it again while a loaded machine looks.
 */
async function untilAwake(): Promise<string[]> {
  return eventually('the app to be awake', async () => {
    await p.get(APP);
    const pods = await currentPodsOf();
    const awake = (await appOf()).status === 'running' && pods.every((x) => x.ready && !x.suspended);
    return awake ? pods.map((x) => x.name).sort() : undefined;
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
    expect(await untilAwake()).toEqual([suspended[0]!.name]);
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
    const both = await untilIdle();
    expect(both).toHaveLength(2);
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v1 -' });
    expect(await untilAwake()).toEqual(both.map((x) => x.name).sort());
  }, 300_000);

  it('a platform restart keeps the idle app suspended; a request wakes the same pod', async () => {
    const suspended = await untilIdle();
    await restart();
    expect((await appOf()).status).toBe('idle');
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v1 -' });
    expect(await untilAwake()).toEqual(suspended.map((x) => x.name).sort());
  }, 180_000);

  it('idle with its pods gone (removed while the platform was down): a request starts its release again', async () => {
    await untilIdle();
    await restart(async () => {
      const left = await docker.listContainers({
        all: true,
        filters: { label: [`${PLATFORM_LABEL}=${p.platformId}`, `${Labels.app}=${APP}`] },
      });
      for (const c of left) await docker.getContainer(c.Id).remove({ force: true });
    });
    // Held while the release starts again (one deploy, source `wake`), then answered.
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v1 -' });
    const [newest] = (await (await p.api$(`/api/v1/apps/${APP}/deploys`)).json()).items as Array<{
      id: string;
      source: string;
    }>;
    expect(newest!.source).toBe('wake');
    const woken = await waitForDeploy(p, APP, newest!.id);
    expect(woken.deploy.status, woken.log).toBe('succeeded');
    // Within its idle clock (2 s) of the last request: traffic keeps it running while a loaded machine looks.
    await eventually('the app running', async () => {
      await p.get(APP);
      return (await appOf()).status === 'running' || undefined;
    });
  }, 180_000);

  it('turned off while idle: the app wakes and stays awake', async () => {
    await untilIdle();
    const res = await p.api$(`/api/v1/apps/${APP}`, { method: 'PATCH', ...json({ scaleToZero: { enabled: false } }) });
    expect(((await res.json()) as { scaleToZero: unknown }).scaleToZero).toEqual({ enabled: false, idleSeconds: 2 });
    await eventually('the app to wake', async () => ((await appOf()).status === 'running' ? true : undefined));
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v1 -' });
  }, 120_000);

  it('over HTTPS too: a TLS connection to the idle app is held while it wakes, then answered', async () => {
    const tlsApp = 'nap-tls';
    await createApp(p, tlsApp, {
      sidecars: { tls: { enabled: true } },
      scaleToZero: { enabled: true, idleSeconds: 2 },
    });
    const v1 = await deploy(p, tlsApp, await code('tls'));
    expect(v1.deploy.status, v1.log).toBe('succeeded');
    const ca = await (await p.api$('/api/v1/ca.pem')).text();
    const statusOf = async () => ((await (await p.api$(`/api/v1/apps/${tlsApp}`)).json()) as { status: string }).status;
    expect(await eventually('an HTTPS answer', () => httpsGet(tlsApp, ca))).toEqual({ status: 200, body: 'vtls -' });
    await eventually('the app to become idle', async () => ((await statusOf()) === 'idle' ? true : undefined), 60_000);
    // A new HTTPS connection is held while the app wakes, then answered.
    expect(await httpsGet(tlsApp, ca)).toEqual({ status: 200, body: 'vtls -' });
    // The status follows just after the pods serve again (the held connection does not wait for it).
    await eventually('the app to be running', async () => ((await statusOf()) === 'running' ? true : undefined));
  }, 180_000);

  it('a created app not deployed yet is known to the router: 503 no_ready_pod from HAProxy, not 404', async () => {
    await createApp(p, 'unborn');
    const answer = async () => {
      const r = await p.get('unborn');
      return r.status === 503 ? (JSON.parse(r.body) as { code: string; detail: string }) : undefined;
    };
    // Declared when created (its backend a reload away), not by a first deploy.
    expect(await eventually('the router to know the new app', answer)).toMatchObject({
      code: 'no_ready_pod',
      detail: 'no pod of the app is ready',
    });
  });

  it('settings out of bounds are refused with the limit named', async () => {
    const res = await p.api$(`/api/v1/apps/${APP}`, { method: 'PATCH', ...json({ scaleToZero: { idleSeconds: 0 } }) });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/idleSeconds/);
  });
});
