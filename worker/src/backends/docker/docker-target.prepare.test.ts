import { Labels } from '@sidecar/core';
import { removePodObjects } from '@sidecar/kubelet';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from '@sidecar/kubelet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerTarget } from './docker-target.js';
import { InMemoryRouteTable } from './in-memory-route-table.js';
import { testApp, testRelease } from './test-support.js';

/**
 * A release's first pod started while its logic image builds (Target.prepare), against the real engine:
 * the logic image does not exist until the test tags it (the "build"); the rollout of that release takes
 * the pod; a build that fails, a deploy that never rolls out, an app changed meanwhile or removed: it goes.
 */
const d = docker();
const platformId = uniqueName('prep');
const routes = new InMemoryRouteTable();
const target = new DockerTarget({
  docker: d,
  routes,
  pauseImage: TEST_IMAGES.pause,
  backoffScale: 0.05,
  readyTimeoutMs: 20_000,
  settings: { probePeriodSeconds: 1, terminationGracePeriodSeconds: 5 },
  platformId,
});
const apps: string[] = [];
const images: string[] = [];

/** A logic image name nothing has made yet, and the "build" that makes it (a tag of the test logic image). */
function plannedImage() {
  const repo = `sidecar-test-planned-${uniqueName('img')}`;
  images.push(`${repo}:1`);
  return { ref: `${repo}:1`, build: () => d.getImage(TEST_IMAGES.logic).tag({ repo, tag: '1' }) };
}
function newApp(env: Record<string, string> = {}) {
  const name = uniqueName('prep');
  apps.push(name);
  return testApp(name, { env });
}
const containersOf = async (app: string) =>
  d.listContainers({ all: true, filters: { label: [`${Labels.managed}=true`, `${Labels.app}=${app}`] } });
const podNames = async (app: string) => [...new Set((await containersOf(app)).map((c) => c.Labels[Labels.pod]!))];
/** Polls the engine (every 100 ms, up to 20 s) until the app's pods are as `done` wants; returns their names. */
async function untilPods(app: string, done: (names: string[]) => boolean): Promise<string[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const names = await podNames(app);
    if (done(names)) return names;
    if (Date.now() > deadline) throw new Error(`pods of ${app}: ${names.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const untilNoContainers = (app: string) => untilPods(app, (names) => names.length === 0);
/** prepare() returns once the pod's start has begun: its record (pause container) comes a moment later. */
const untilPrepared = async (app: string, count = 1) => (await untilPods(app, (n) => n.length === count)).sort();
const rollout = async (app: ReturnType<typeof newApp>, release: ReturnType<typeof testRelease>) => {
  const lines: string[] = [];
  await target.apply({ app, release, signal: new AbortController().signal, log: (l) => lines.push(l) });
  return lines;
};

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await target.close();
  for (const app of apps) for (const pod of await podNames(app)) await removePodObjects(d, pod);
  await Promise.allSettled(images.map((i) => d.getImage(i).remove({ force: true })));
});

describe.concurrent('DockerTarget: the first pod started during the build', () => {
  it('starts before the image exists; the rollout of that release takes it: no second pod', async () => {
    const app = newApp();
    const image = plannedImage();
    const release = testRelease(app.name, 1, { image: image.ref, deployId: uniqueName('d') });
    const log: string[] = [];
    const pod = await target.prepare({ app, release, log: (l) => log.push(l) });
    expect(pod).toBeDefined();
    // Its sandbox comes now; the logic sidecar cannot (its image does not exist yet).
    const [prepared] = await untilPrepared(app.name);
    expect(log).toContain(`pod ${prepared}: starting while the image builds`);
    // Not one of the app's pods until a rollout takes it.
    expect(await target.status(app.name)).toEqual([]);

    await image.build();
    pod!.imageBuilt();
    const lines = await rollout(app, release);
    expect((await routes.get(app.name)).map((u) => u.pod)).toEqual([prepared]);
    expect(await podNames(app.name)).toEqual([prepared]);
    const [view] = await target.status(app.name);
    expect(view).toMatchObject({ name: prepared, release: 1, ready: true });
    // Its image came from the build (Pulling first only if the container was due before the image existed).
    expect(view!.events.filter((e) => e.container === 'app' && e.reason !== 'Pulling').map((e) => e.reason)).toEqual(
      expect.arrayContaining(['Pulled', 'Created', 'Started']),
    );
    // The rollout's log follows the pod from when it took it.
    expect(lines.some((l) => l.startsWith(`pod ${prepared}: runtime ready`))).toBe(true);
  });

  it('a build that fails deletes it while it waits for its image', async () => {
    const app = newApp();
    const release = testRelease(app.name, 1, { image: plannedImage().ref, deployId: uniqueName('d') });
    const pod = await target.prepare({ app, release, log: () => undefined });
    await untilPrepared(app.name);
    pod!.discard('the build failed');
    await untilNoContainers(app.name);
  });

  it('a deploy that never rolls out (superseded, cancelled) deletes it once its image exists', async () => {
    const app = newApp();
    const image = plannedImage();
    const release = testRelease(app.name, 1, { image: image.ref, deployId: uniqueName('d') });
    const pod = await target.prepare({ app, release, log: () => undefined });
    await image.build();
    pod!.imageBuilt();
    target.discardPrepared(release.deployId);
    await untilNoContainers(app.name);
  });

  it('an app changed during the build: the rollout deletes it and starts the pod of what the app is now', async () => {
    const app = newApp({ GREETING: 'before' });
    const image = plannedImage();
    const release = testRelease(app.name, 1, { image: image.ref, deployId: uniqueName('d') });
    const pod = await target.prepare({ app, release, log: () => undefined });
    const [prepared] = await untilPrepared(app.name);
    await image.build();
    pod!.imageBuilt();
    // The release recorded after the build carries the app's env as it is then.
    const lines = await rollout({ ...app, env: { GREETING: 'after' } }, { ...release, env: { GREETING: 'after' } });
    expect(lines).toContain(`pod ${prepared}, started during the build, no longer matches the app; starting a new one`);
    const [serving] = (await routes.get(app.name)).map((u) => u.pod);
    expect(serving).not.toBe(prepared);
    expect(await untilPods(app.name, (names) => !names.includes(prepared!))).toEqual([serving]);
  });

  it('a release recorded under another number than the one reserved (a config change took it) starts its own pod', async () => {
    const app = newApp();
    const image = plannedImage();
    const deployId = uniqueName('d');
    const pod = await target.prepare({
      app,
      release: testRelease(app.name, 1, { image: image.ref, deployId }),
      log: () => undefined,
    });
    const [prepared] = await untilPrepared(app.name);
    await image.build();
    pod!.imageBuilt();
    const lines = await rollout(app, testRelease(app.name, 2, { image: image.ref, deployId }));
    expect(lines).toContain(
      `pod ${prepared}, started during the build, is named after v1, the release is v2; starting a new one`,
    );
    const [serving] = (await routes.get(app.name)).map((u) => u.pod);
    expect(serving).toMatch(new RegExp(`^${app.name}-v2-`));
    expect(await untilPods(app.name, (names) => !names.includes(prepared!))).toEqual([serving]);
  });

  it("one whose containers cannot be created (here: a name taken) is replaced by a pod of the rollout's own", async () => {
    const app = newApp();
    const image = plannedImage();
    const release = testRelease(app.name, 1, { image: image.ref, deployId: uniqueName('d') });
    const pod = await target.prepare({ app, release, log: () => undefined });
    const [prepared] = await untilPrepared(app.name);
    await image.build();
    // Something else holds the logic sidecar's container name: its creation (due once the image exists) fails.
    const squatter = await d.createContainer({ name: `${prepared}-app`, Image: TEST_IMAGES.pause });
    try {
      pod!.imageBuilt();
      // Whether the rollout sees the failure when it takes the pod or while it waits for its start: the same.
      const lines = await rollout(app, release);
      expect(lines).toContain(`pod ${prepared}, started during the build, could not start; starting a new one`);
      const [serving] = (await routes.get(app.name)).map((u) => u.pod);
      expect(serving).not.toBe(prepared);
      expect(await untilPods(app.name, (names) => !names.includes(prepared!))).toEqual([serving]);
    } finally {
      await squatter.remove({ force: true });
    }
  });

  it("another release's rollout leaves it alone; the app's removal deletes it", async () => {
    const app = newApp();
    await rollout(app, testRelease(app.name, 1, { deployId: uniqueName('d') }));
    const [v1] = await podNames(app.name);
    const release = testRelease(app.name, 3, { image: plannedImage().ref, deployId: uniqueName('d') });
    await target.prepare({ app: { ...app, currentRelease: 1 }, release, log: () => undefined });
    const prepared = (await untilPrepared(app.name, 2)).find((p) => p !== v1);
    // v2 (a config change, say) rolls out while v3 builds: it replaces v1, never the prepared pod.
    await rollout({ ...app, currentRelease: 1 }, testRelease(app.name, 2, { deployId: uniqueName('d') }));
    const names = await podNames(app.name);
    expect(names).toContain(prepared);
    expect(names).not.toContain(v1);
    await target.remove(app.name);
    expect(await podNames(app.name)).toEqual([]);
  });
});
