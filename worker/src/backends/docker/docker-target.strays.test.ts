import { Labels, podNameFor, renderPod, type Upstream } from '@sidecar/core';
import { PLATFORM_LABEL, PodRunner, removePodObjects } from '@sidecar/kubelet';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from '@sidecar/kubelet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerTarget } from './docker-target.js';
import { InMemoryRouteTable } from './in-memory-route-table.js';
import { testApp, testRelease } from './test-support.js';

/**
 * A pod a dead worker left out of rotation (a rollout cut short, or a release's first pod started during a
 * build that never rolled out): the next worker adopts it, and the next rollout stops it at once — it never
 * enters the routes, not even for the moment a surge puts new and old pods in rotation together.
 */
const d = docker();
const platformId = uniqueName('strays');
const app = testApp(uniqueName('strays'));
const settings = { probePeriodSeconds: 1, terminationGracePeriodSeconds: 5 };

/** Every route set the router is given, in order. */
class RecordingRouteTable extends InMemoryRouteTable {
  readonly sets: string[][] = [];
  override async set(name: string, upstreams: Upstream[]): Promise<void> {
    this.sets.push(upstreams.map((u) => u.pod));
    await super.set(name, upstreams);
  }
}
const podNames = async () =>
  [
    ...new Set(
      (
        await d.listContainers({
          all: true,
          filters: { label: [`${Labels.managed}=true`, `${Labels.app}=${app.name}`] },
        })
      ).map((c) => c.Labels[Labels.pod]!),
    ),
  ].sort();
const targets: DockerTarget[] = [];

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await Promise.allSettled(targets.map((t) => t.close()));
  for (const pod of await podNames()) await removePodObjects(d, pod);
});

describe('DockerTarget: pods out of rotation at a rollout', () => {
  it('an adopted pod that never served is stopped when the next rollout begins, never routed', async () => {
    const routes = new RecordingRouteTable();
    const newTarget = () => {
      const t = new DockerTarget({ docker: d, routes, pauseImage: TEST_IMAGES.pause, settings, platformId });
      targets.push(t);
      return t;
    };
    // v1 serves.
    const first = newTarget();
    const v1 = testRelease(app.name, 1, { env: { CODE: 'one' } });
    await first.apply({ app, release: v1, signal: new AbortController().signal, log: () => undefined });
    const [serving] = (await routes.get(app.name)).map((u) => u.pod);
    // A Ready pod of v2 that a worker started and died before routing (made here as that worker would have).
    const left = renderPod({
      app,
      release: testRelease(app.name, 2, { env: { CODE: 'two' } }),
      podName: podNameFor(app.name, 2, 'left1'),
      settings,
    });
    left.metadata.labels = { ...left.metadata.labels, [PLATFORM_LABEL]: platformId };
    const runner = new PodRunner({ docker: d, pod: left, pauseImage: TEST_IMAGES.pause });
    await runner.start();
    await runner.waitFor((v) => v.ready, { timeoutMs: 30_000 });
    await runner.close();
    await first.close();

    // The next worker adopts both; v3 rolls out.
    const next = newTarget();
    const { adopted } = await next.adopt();
    expect(adopted.sort()).toEqual([serving, left.metadata.name].sort());
    const lines: string[] = [];
    routes.sets.length = 0;
    await next.apply({
      app: { ...app, currentRelease: 1 },
      release: testRelease(app.name, 3, { env: { CODE: 'three' } }),
      signal: new AbortController().signal,
      log: (l) => lines.push(l),
    });
    expect(lines).toContain(`stopping pods out of rotation: ${left.metadata.name}`);
    expect(routes.sets.flat()).not.toContain(left.metadata.name);
    const [v3] = (await routes.get(app.name)).map((u) => u.pod);
    expect(v3).toMatch(new RegExp(`^${app.name}-v3-`));
    expect(await podNames()).toEqual([v3]);
  });
});
