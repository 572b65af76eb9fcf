import { Labels, type PodView } from '@sidecar/core';
import { removePodObjects } from '@sidecar/kubelet';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from '@sidecar/kubelet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerTarget } from './docker-target.js';
import { InMemoryRouteTable } from './in-memory-route-table.js';
import { testApp, testRelease } from './test-support.js';

/**
 * The previous release kept warm (frozen) for an instant rollback, against the real engine: a rollback
 * to it thaws its pods instead of starting new ones; other rollouts and the window's end stop them.
 */
const d = docker();
const appName = uniqueName('warm');
const shortName = uniqueName('warm-short');
const settings = { probePeriodSeconds: 1, terminationGracePeriodSeconds: 5 };
const targets: DockerTarget[] = [];

const newTarget = (platformId: string, routes: InMemoryRouteTable, rollbackWindowMs: number) => {
  const t = new DockerTarget({
    docker: d,
    routes,
    pauseImage: TEST_IMAGES.pause,
    backoffScale: 0.05,
    readyTimeoutMs: 20_000,
    settings,
    platformId,
    rollbackWindowMs,
  });
  targets.push(t);
  return t;
};

const appOf = (name: string) => testApp(name);
/** Releases differ by their env (`CODE`); a rollback is a new version with an older one's env. */
const release = (name: string, version: number, code: string) => testRelease(name, version, { env: { CODE: code } });
async function rollout(t: DockerTarget, name: string, version: number, code: string, current: number | null) {
  const lines: string[] = [];
  await t.apply({
    app: { ...appOf(name), currentRelease: current },
    release: release(name, version, code),
    signal: new AbortController().signal,
    log: (l) => lines.push(l),
  });
  return lines;
}
const podsOf = (name: string) =>
  d.listContainers({ all: true, filters: { label: [`${Labels.managed}=true`, `${Labels.app}=${name}`] } });
const pausedPods = async (name: string) =>
  new Set((await podsOf(name)).filter((c) => c.State === 'paused').map((c) => c.Labels[Labels.pod]));
const byRelease = (views: PodView[]) =>
  views.map((v) => [v.release, v.suspended?.reason ?? 'serving']).sort((a, b) => Number(a[0]) - Number(b[0]));

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await Promise.allSettled(targets.map((t) => t.close()));
  for (const name of [appName, shortName]) {
    const pods = new Set((await podsOf(name)).map((c) => c.Labels[Labels.pod]!));
    for (const pod of pods) await removePodObjects(d, pod);
  }
});

describe('DockerTarget: the previous release kept warm', () => {
  const routes = new InMemoryRouteTable();
  let target: DockerTarget;

  it('freezes the replaced release once it left rotation, and reports what it keeps', async () => {
    target = newTarget(appName, routes, 600_000);
    await rollout(target, appName, 1, 'one', null);
    const [v1] = await target.status(appName);
    const lines = await rollout(target, appName, 2, 'two', 1);
    expect(lines.some((l) => l.includes(`keeping previous pod ${v1!.name} frozen`))).toBe(true);
    const views = await target.status(appName);
    expect(byRelease(views)).toEqual([
      [1, 'warm'],
      [2, 'serving'],
    ]);
    const warm = views.find((v) => v.release === 1)!;
    expect(Date.parse(warm.suspended!.until!)).toBeGreaterThan(Date.now());
    expect(await pausedPods(appName)).toEqual(new Set([v1!.name]));
    expect((await routes.get(appName)).map((u) => u.pod)).toEqual([views.find((v) => v.release === 2)!.name]);
    // The memory the frozen pod keeps is measured and reported.
    await expect
      .poll(async () => (await target.status(appName)).find((v) => v.release === 1)?.suspended?.memoryBytes, {
        timeout: 20_000,
        interval: 200,
      })
      .toBeGreaterThan(0);
  }, 120_000);

  it('a rollback to that release thaws its pods and routes them; no pod is started; the replaced one goes warm', async () => {
    const v1 = (await target.status(appName)).find((v) => v.release === 1)!;
    const v2 = (await target.status(appName)).find((v) => v.release === 2)!;
    const lines = await rollout(target, appName, 3, 'one', 2);
    expect(lines.some((l) => l.includes(`pod ${v1.name}: thawed`))).toBe(true);
    expect(lines.some((l) => /: app started$/.test(l))).toBe(false); // nothing was started
    expect((await routes.get(appName)).map((u) => u.pod)).toEqual([v1.name]);
    const up = (await routes.get(appName))[0]!;
    expect((await (await fetch(`http://${up.address}/index.html`)).text()).trim()).toBe('hello from 1');
    expect(byRelease(await target.status(appName))).toEqual([
      [1, 'serving'],
      [2, 'warm'],
    ]);
    expect(await pausedPods(appName)).toEqual(new Set([v2.name]));
  }, 120_000);

  it('any other rollout stops the warm pods (older releases keep the ordinary path)', async () => {
    const v2 = (await target.status(appName)).find((v) => v.release === 2)!;
    await rollout(target, appName, 4, 'four', 3);
    expect(byRelease(await target.status(appName))).toEqual([
      [1, 'warm'],
      [4, 'serving'],
    ]);
    expect((await podsOf(appName)).some((c) => c.Labels[Labels.pod] === v2.name)).toBe(false);
  }, 120_000);

  it('a restarted worker stops the warm pods it finds (it cannot know what they were made from)', async () => {
    const warm = (await target.status(appName)).find((v) => v.suspended)!;
    await target.close();
    target = newTarget(appName, routes, 600_000);
    const { adopted } = await target.adopt({ log: () => undefined });
    expect(adopted).toContain(warm.name);
    await expect
      .poll(async () => (await podsOf(appName)).some((c) => c.Labels[Labels.pod] === warm.name), {
        timeout: 30_000,
        interval: 200,
      })
      .toBe(false);
    // The pod leaves the target's list once its deletion has finished (just after its containers are gone).
    await expect
      .poll(async () => byRelease(await target.status(appName)), { timeout: 30_000, interval: 200 })
      .toEqual([[4, 'serving']]);
  }, 120_000);

  it('remove: warm pods go with the app', async () => {
    // The adopted v4 pod is not kept warm (its full spec is unknown); v5's, rendered here, is.
    await rollout(target, appName, 5, 'five', 4);
    expect((await pausedPods(appName)).size).toBe(0);
    await rollout(target, appName, 6, 'six', 5);
    expect((await pausedPods(appName)).size).toBe(1);
    await target.remove(appName);
    expect(await podsOf(appName)).toEqual([]);
  }, 120_000);

  it('stops the warm pods when the window ends', async () => {
    const short = newTarget(shortName, new InMemoryRouteTable(), 1500);
    await rollout(short, shortName, 1, 'one', null);
    const [v1] = await short.status(shortName);
    const lines = await rollout(short, shortName, 2, 'two', 1);
    expect(lines.some((l) => l.includes(`keeping previous pod ${v1!.name} frozen`))).toBe(true);
    await expect
      .poll(async () => (await podsOf(shortName)).some((c) => c.Labels[Labels.pod] === v1!.name), {
        timeout: 30_000,
        interval: 200,
      })
      .toBe(false);
    // The target forgets the pod once its deletion has settled, just after its containers are gone.
    await expect
      .poll(async () => byRelease(await short.status(shortName)), { timeout: 30_000, interval: 200 })
      .toEqual([[2, 'serving']]);
    await short.remove(shortName);
  }, 120_000);
});
