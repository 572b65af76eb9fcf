import { Labels } from '@sidecar/core';
import { removePodObjects } from '@sidecar/kubelet';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from '@sidecar/kubelet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerTarget } from './docker-target.js';
import { InMemoryRouteTable } from './in-memory-route-table.js';
import { testApp, testRelease } from './test-support.js';

/**
 * Scale to zero's target half against the real engine: suspend takes the serving pods out of the routes
 * and freezes them; wake thaws and routes them again; a restarted worker keeps them suspended; a
 * rollout of a suspended app wakes it first. (The whole path, router included: test/e2e/scale-to-zero.test.ts.)
 */
const d = docker();
const name = uniqueName('idle');
const targets: DockerTarget[] = [];
const routes = new InMemoryRouteTable();

const newTarget = () => {
  const t = new DockerTarget({
    docker: d,
    routes,
    pauseImage: TEST_IMAGES.pause,
    backoffScale: 0.05,
    readyTimeoutMs: 20_000,
    settings: { probePeriodSeconds: 1, terminationGracePeriodSeconds: 5 },
    platformId: name,
  });
  targets.push(t);
  return t;
};
const app = (currentRelease: number | null) => testApp(name, { currentRelease, status: 'running' });
const release = (version: number, code: string) => testRelease(name, version, { env: { CODE: code } });
const rollout = async (t: DockerTarget, version: number, code: string, current: number | null) => {
  const lines: string[] = [];
  await t.apply({
    app: app(current),
    release: release(version, code),
    signal: new AbortController().signal,
    log: (l) => lines.push(l),
  });
  return lines;
};
const containers = () =>
  d.listContainers({ all: true, filters: { label: [`${Labels.managed}=true`, `${Labels.app}=${name}`] } });
const paused = async () =>
  new Set((await containers()).filter((c) => c.State === 'paused').map((c) => c.Labels[Labels.pod]));
const answer = async () => {
  const [up] = await routes.get(name);
  return up ? (await (await fetch(`http://${up.address}/index.html`)).text()).trim() : undefined;
};

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await Promise.allSettled(targets.map((t) => t.close()));
  for (const pod of new Set((await containers()).map((c) => c.Labels[Labels.pod]!))) await removePodObjects(d, pod);
});

describe('DockerTarget: scale to zero', () => {
  let target: DockerTarget;
  let pod = '';

  it('suspend: out of the routes, then frozen; status says idle; a second suspend does nothing', async () => {
    target = newTarget();
    await rollout(target, 1, 'one', null);
    pod = (await routes.get(name))[0]!.pod;
    expect(await target.suspend(name, { drainSeconds: 1 })).toEqual([pod]);
    expect(target.isSuspended(name)).toBe(true);
    expect(await routes.get(name)).toEqual([]);
    expect(await paused()).toEqual(new Set([pod]));
    const [view] = await target.status(name);
    expect(view).toMatchObject({ name: pod, suspended: { reason: 'idle' } });
    expect(await target.suspend(name, { drainSeconds: 1 })).toEqual([]);
  }, 120_000);

  it('a restarted worker keeps the idle app suspended, and its wake serves the same pod', async () => {
    await target.close();
    target = newTarget();
    await target.adopt({ suspendedPods: () => Promise.resolve([pod]) });
    expect(target.isSuspended(name)).toBe(true);
    expect(await paused()).toEqual(new Set([pod]));
    expect(await target.wake(name)).toBe(true);
    expect((await routes.get(name)).map((u) => u.pod)).toEqual([pod]);
    expect(await answer()).toBe('hello from 1');
    expect(await paused()).toEqual(new Set());
    const [view] = await target.status(name);
    expect(view).toMatchObject({ name: pod, ready: true });
    expect(view!.suspended).toBeUndefined();
    expect(await target.wake(name)).toBe(false);
    expect(target.isSuspended(name)).toBe(false);
  }, 120_000);

  it('a rollout of a suspended app wakes it first, then replaces its pod', async () => {
    expect(await target.suspend(name, { drainSeconds: 1 })).toEqual([pod]);
    const lines = await rollout(target, 2, 'two', 1);
    expect(lines[0]).toMatch(/woke the app's suspended pods/);
    expect(await answer()).toBe('hello from 2');
    expect((await routes.get(name)).map((u) => u.pod)).not.toContain(pod);
    expect(await paused()).toEqual(new Set());
  }, 120_000);

  it("a wake racing the app's removal never brings its routes back", async () => {
    const [pod2] = await target.suspend(name, { drainSeconds: 1 });
    expect(pod2).toBeDefined();
    // A request held for the app asks for a wake just as the user deletes it.
    await Promise.all([target.wake(name), routes.remove(name).then(() => target.remove(name))]);
    expect(await routes.get(name)).toEqual([]);
    expect(routes.history.at(-1)).toMatchObject({ app: name, upstreams: null });
    expect(await containers()).toEqual([]);
    expect(await target.wake(name)).toBe(false);
  }, 120_000);
});
