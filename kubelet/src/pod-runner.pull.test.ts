import { Labels, type PodView } from '@sidecar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodRunner } from './pod-runner.js';
import {
  TEST_IMAGES,
  cleanupPods,
  container,
  docker,
  ensureTestImages,
  testPod,
  startedAtNs,
  uniqueName,
} from './test-support.js';

/**
 * A container whose image does not exist yet (PodRunnerOptions.pendingImages: the platform builds a logic
 * image while the pod starts): the containers before it start meanwhile, as a kubelet starts them while a
 * later container's image is pulled. Real engine; the "pull" is a `docker tag` the test makes when it wants.
 */
const d = docker();
const runners: PodRunner[] = [];
const images: string[] = [];

function deferred() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function run(name: string, pending: Promise<void>, image: string): PodRunner {
  const r = new PodRunner({
    docker: d,
    pauseImage: TEST_IMAGES.pause,
    pod: testPod(name, {
      initContainers: [
        container('s1', { restartPolicy: 'Always' }),
        { ...container('late', { restartPolicy: 'Always' }), image },
      ],
      containers: [container('m1')],
    }),
    pendingImages: new Map([['late', pending]]),
  });
  runners.push(r);
  return r;
}
const newImage = () => {
  const repo = `sidecar-test-pending-${uniqueName('img')}`;
  images.push(`${repo}:1`);
  return { ref: `${repo}:1`, make: () => d.getImage(TEST_IMAGES.base).tag({ repo, tag: '1' }) };
};
const reasonsOf = (v: PodView, container: string) =>
  v.events.filter((e) => e.container === container).map((e) => e.reason);
const containersOf = async (pod: string) =>
  (await d.listContainers({ all: true, filters: { label: [`${Labels.pod}=${pod}`] } })).map(
    (c) => c.Labels[Labels.container],
  );

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await Promise.allSettled(runners.map((r) => r.close()));
  await cleanupPods(
    d,
    runners.map((r) => r.name),
  );
  await Promise.allSettled(images.map((i) => d.getImage(i).remove({ force: true })));
});

describe.concurrent('PodRunner: a container whose image is still being made', () => {
  it('the containers before it start while it waits; Pulling, then Pulled, Created, Started once the image exists', async () => {
    const image = newImage();
    const pull = deferred();
    const r = run(uniqueName('pull'), pull.promise, image.ref);
    const starting = r.start();
    // Pulling is reported once the lifecycle reaches it: the sidecar before it runs by then.
    const waiting = await r.waitFor((v) => reasonsOf(v, 'late').includes('Pulling'), { timeoutMs: 30_000 });
    expect(waiting.initContainerStatuses.find((c) => c.name === 's1')?.state.running).toBeDefined();
    expect(reasonsOf(waiting, 'late')).toEqual(['Pulling']);
    expect(waiting.containerStatuses[0]?.state.running).toBeUndefined();
    // Nothing exists for it in the engine yet (it could not: its image does not exist).
    expect(await containersOf(r.name)).not.toContain('late');

    await image.make();
    pull.resolve();
    await starting;
    const running = await r.waitFor((v) => v.containerStatuses[0]?.state.running !== undefined, { timeoutMs: 30_000 });
    expect(reasonsOf(running, 'late').slice(0, 4)).toEqual(['Pulling', 'Pulled', 'Created', 'Started']);
    // In the pod's order, by when the engine started them (a first line may come late: nothing waits for it).
    const started = await Promise.all(['s1', 'late', 'm1'].map((c) => startedAtNs(d, r.name, c)));
    expect([...started].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(started);
  });

  it('an image made before the container is due is only "present": Pulled without Pulling, as the kubelet reports it', async () => {
    const image = newImage();
    const pull = deferred();
    await image.make();
    pull.resolve();
    const r = run(uniqueName('present'), pull.promise, image.ref);
    await r.start();
    const running = await r.waitFor((v) => v.containerStatuses[0]?.state.running !== undefined, { timeoutMs: 30_000 });
    expect(reasonsOf(running, 'late').slice(0, 3)).toEqual(['Pulled', 'Created', 'Started']);
    expect(running.events.find((e) => e.container === 'late' && e.reason === 'Pulled')?.message).toBe(
      `Container image "${image.ref}" already present on machine`,
    );
  });

  it('a failed pull fails start() with its reason and a Failed event; nothing after it starts; delete leaves nothing', async () => {
    const pull = deferred();
    const r = run(uniqueName('nopull'), pull.promise, 'sidecar-test-never-built:1');
    const starting = r.start();
    await r.waitFor((v) => reasonsOf(v, 'late').includes('Pulling'), { timeoutMs: 30_000 });
    pull.reject(new Error('the build failed: npm install exited 1'));
    await expect(starting).rejects.toThrow(/npm install exited 1/);
    const v = await r.waitFor((x) => reasonsOf(x, 'late').includes('Failed'), { timeoutMs: 10_000 });
    expect(v.events.find((e) => e.container === 'late' && e.reason === 'Failed')?.message).toMatch(
      /Failed to pull image "sidecar-test-never-built:1": the build failed/,
    );
    expect(reasonsOf(v, 'm1')).not.toContain('Started');
    await r.delete({ gracePeriodSeconds: 2 });
    expect(await containersOf(r.name)).toEqual([]);
  });

  it('a pod deleted while it waits stops waiting: delete() ends and leaves nothing', async () => {
    const pull = deferred(); // never settles: only the deletion ends the wait
    const r = run(uniqueName('pulldel'), pull.promise, 'sidecar-test-never-built:2');
    void r.start().catch(() => undefined);
    await r.waitFor((v) => reasonsOf(v, 'late').includes('Pulling'), { timeoutMs: 30_000 });
    await r.delete({ gracePeriodSeconds: 2 });
    expect(await containersOf(r.name)).toEqual([]);
    expect(r.status().phase).toBe('Failed');
  });
});
