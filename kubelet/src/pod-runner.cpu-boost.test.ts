import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerName } from './container-options.js';
import { PodRunner } from './pod-runner.js';
import { TEST_IMAGES, cleanupPods, container, docker, ensureTestImages, testPod, uniqueName } from './test-support.js';

/**
 * The startup CPU boost (startup-cpu-boost.ts): containers whose CPU limit is below the boost start
 * with the boost's; a sidecar gets its own once it has started, a main once the pod is Ready or its time
 * is up, and both when the pod stops or its runner closes, or when a runner adopts a pod left boosted.
 */
const d = docker();
const names = [uniqueName('boost'), uniqueName('boost-late'), uniqueName('boost-stop'), uniqueName('boost-adopt')];
const runners: PodRunner[] = [];
const ONE_CPU = 1e9;
const nanoCpus = async (pod: string, c: string) =>
  (await d.getContainer(containerName(pod, c)).inspect()).HostConfig.NanoCpus;
async function until<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 50))) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${String(v)} after 30 s`);
  }
}

/** A sidecar at 100m; mains at 200m (Ready once /tmp/ready exists), at 2 CPUs and without a CPU limit. */
const podOf = (name: string) =>
  testPod(name, {
    initContainers: [container('s1', { restartPolicy: 'Always', resources: { limits: { cpu: '100m' } } })],
    containers: [
      container('m1', {
        resources: { limits: { cpu: '200m' } },
        readinessProbe: { exec: { command: ['test', '-f', '/tmp/ready'] }, periodSeconds: 1 },
      }),
      container('m2', { resources: { limits: { cpu: '2' } } }),
      container('m3'),
    ],
  });
const ready = (name: string) =>
  d
    .getContainer(containerName(name, 'm1'))
    .exec({ Cmd: ['touch', '/tmp/ready'] })
    .then((e) => e.start({}))
    .then((s) => new Promise((r) => (s.on('end', r), s.resume())));

/** A runner of podOf(name) with a boost to one CPU for at most `maxMs`, started. */
async function startBoosted(name: string, maxMs: number): Promise<PodRunner> {
  const runner = new PodRunner({
    docker: d,
    pod: podOf(name),
    pauseImage: TEST_IMAGES.pause,
    startupCpuBoost: { nanoCpus: ONE_CPU, maxMs },
  });
  runners.push(runner);
  await runner.start();
  return runner;
}
const untilOwn = async (name: string, c: string, own: number) =>
  expect(
    await until(
      c,
      () => nanoCpus(name, c),
      (v) => v === own,
    ),
  ).toBe(own);

/** How many times the engine updated the container since `since` (seconds): its `update` events. */
async function updatesOf(pod: string, c: string, since: number): Promise<number> {
  const events = await d.getEvents({
    since,
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { container: [containerName(pod, c)], event: ['update'] },
  });
  let text = '';
  for await (const chunk of events as unknown as AsyncIterable<Buffer>) text += chunk.toString();
  return text.split('\n').filter((l) => l.trim() !== '').length;
}

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await Promise.allSettled(runners.map((r) => r.close()));
  await cleanupPods(d, names);
});

describe('PodRunner: startup CPU boost', () => {
  it('raises lower limits while the pod starts: a sidecar until it started, a main until the pod is Ready', async () => {
    const name = names[0]!;
    const since = Math.floor(Date.now() / 1000) - 1;
    const runner = await startBoosted(name, 600_000);
    await runner.waitFor((v) => v.containerStatuses.every((c) => c.state.running !== undefined), { timeoutMs: 30_000 });
    expect(runner.status().ready).toBe(false);
    // A main below the boost keeps it while the pod is not Ready; at or above it, or unlimited: as declared.
    expect(await nanoCpus(name, 'm1')).toBe(ONE_CPU);
    expect(await nanoCpus(name, 'm2')).toBe(2e9);
    expect(await nanoCpus(name, 'm3')).toBe(0);
    // The sidecar was created with it and set back once started, before the pod is Ready (the engine's events).
    await untilOwn(name, 's1', 1e8);
    expect(runner.status().ready).toBe(false);
    expect(await updatesOf(name, 's1', since)).toBe(1);

    await ready(name);
    await runner.waitFor((v) => v.ready, { timeoutMs: 30_000 });
    await untilOwn(name, 'm1', 2e8);
    expect(await updatesOf(name, 'm2', since)).toBe(0);
    expect(await nanoCpus(name, 'm2')).toBe(2e9);
    expect(await nanoCpus(name, 'm3')).toBe(0);
  }, 90_000);

  it('ends when its time is up, though the pod is not Ready', async () => {
    const name = names[1]!;
    // A main's clock runs from its start: long enough to see it boosted first, even on a loaded machine.
    const runner = await startBoosted(name, 5000);
    expect(await nanoCpus(name, 'm1')).toBe(ONE_CPU);
    await untilOwn(name, 'm1', 2e8);
    await untilOwn(name, 's1', 1e8);
    expect(runner.status().ready).toBe(false);
  }, 90_000);

  it('ends when the pod stops: its grace period is not spent boosted', async () => {
    const name = names[2]!;
    const runner = await startBoosted(name, 600_000);
    expect(await nanoCpus(name, 'm1')).toBe(ONE_CPU);
    const stopping = runner.stop({ gracePeriodSeconds: 3 });
    await untilOwn(name, 'm1', 2e8);
    await untilOwn(name, 's1', 1e8);
    await stopping;
  }, 90_000);

  it('ends when its runner closes; a supervising adopter sets a pod left boosted back', async () => {
    const name = names[3]!;
    const first = await startBoosted(name, 600_000);
    expect(await nanoCpus(name, 'm1')).toBe(ONE_CPU);
    await first.close();
    await untilOwn(name, 'm1', 2e8);
    await untilOwn(name, 's1', 1e8);

    // As a worker killed during the pod's start leaves it: boosted, with nobody to end the boost.
    for (const c of ['s1', 'm1']) await d.getContainer(containerName(name, c)).update({ NanoCpus: ONE_CPU });
    const observer = await PodRunner.adopt({ docker: d, podName: name, supervise: false });
    runners.push(observer);
    const adopter = await PodRunner.adopt({ docker: d, podName: name });
    runners.push(adopter);
    await untilOwn(name, 'm1', 2e8);
    await untilOwn(name, 's1', 1e8);
    expect(await nanoCpus(name, 'm2')).toBe(2e9);
  }, 90_000);
});
