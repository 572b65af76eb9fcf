import type { PodView } from '@sidecar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerName, pauseName } from './container-options.js';
import { PodRunner } from './pod-runner.js';
import {
  TEST_IMAGES,
  cleanupPods,
  container,
  docker,
  ensureTestImages,
  podLog,
  startedAtNs,
  testPod,
  uniqueName,
  waitForLog,
} from './test-support.js';

/**
 * A sandbox that dies under a supervised pod (the pause container killed; an engine restart without
 * live-restore does the same to every pod at once, test/chaos/engine-restart.test.ts): the kubelet's
 * SandboxChanged — the pod's containers are killed, the sandbox re-created, and every init entry runs
 * again from the first, in order, before the main.
 */
const d = docker();
const names = [uniqueName('sandbox'), uniqueName('sandbox-adopt')];
const runners: PodRunner[] = [];
const status = (v: PodView, n: string) =>
  [...v.initContainerStatuses, ...v.containerStatuses].find((c) => c.name === n)!;
const restarted = (v: PodView) => ['s1', 'i2', 's3', 'm1'].every((n) => status(v, n).restartCount === 1);

/** A sidecar, a regular init, a second sidecar and a main; each logs start/TERM/exit. */
const podOf = (name: string) =>
  testPod(name, {
    initContainers: [
      container('s1', { restartPolicy: 'Always' }),
      container('i2', { body: 'true' }),
      container('s3', { restartPolicy: 'Always' }),
    ],
    containers: [container('m1', { readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1 } })],
  });

const POD_ORDER = ['s1', 'i2', 's3', 'm1'];
/**
 * The pod's containers by when the engine last started them (State.StartedAt): the order the runner
 * started them in. Not their first lines: nothing waits for a sidecar's shell to print before the next starts.
 */
async function startOrder(pod: string): Promise<string[]> {
  const at = await Promise.all(POD_ORDER.map(async (c) => ({ c, ns: await startedAtNs(d, pod, c) })));
  return at.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0)).map((x) => x.c);
}

/** Starts the pod under a runner and waits until it is ready and every container has logged its start. */
async function readyPod(name: string): Promise<PodRunner> {
  const runner = new PodRunner({ docker: d, pod: podOf(name), pauseImage: TEST_IMAGES.pause, backoffScale: 0.05 });
  runners.push(runner);
  await runner.start();
  await runner.waitFor((v) => v.ready, { timeoutMs: 30_000 });
  await waitForLog(d, name, ['s1 start', 's3 start', 'm1 start']);
  return runner;
}

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await Promise.allSettled(runners.map((r) => r.close()));
  await cleanupPods(d, names);
});

describe('a sandbox that dies', () => {
  it('is re-created: the containers stop, then start again in the pod order, and the pod is ready again', async () => {
    const name = names[0]!;
    const runner = await readyPod(name);

    await d.getContainer(pauseName(name)).kill({ signal: 'SIGKILL' });
    const back = await runner.waitFor((v) => v.ready && restarted(v), { timeoutMs: 60_000 });

    expect(back.phase).toBe('Running');
    const reasons = back.events.map((e) => e.reason);
    expect(reasons).toContain('SandboxChanged');
    // The containers that ran in the dead sandbox got their stop signal (they lost their network with it).
    expect(await podLog(d, name)).toEqual(expect.arrayContaining(['s1 TERM', 's3 TERM', 'm1 TERM']));
    // Second runs, in the pod's order: s1, then the init i2 (again, although it had succeeded), s3, m1.
    expect(await startOrder(name)).toEqual(POD_ORDER);
    // The sandbox runs again, and the pod's address is the new sandbox's.
    const pause = await d.getContainer(pauseName(name)).inspect();
    expect(pause.State.Running).toBe(true);
    expect(Object.values(pause.NetworkSettings.Networks).map((n) => n.IPAddress)).toContain(runner.ip());

    await runner.delete();
    expect(await PodRunner.list(d)).not.toContain(name);
  });

  it('an adopted pod whose sandbox is down starts everything again in the pod order', async () => {
    const name = names[1]!;
    await (await readyPod(name)).close();
    // While nobody supervises it, everything stops (as an engine restart without live-restore does).
    for (const c of ['m1', 's3', 's1']) await d.getContainer(containerName(name, c)).stop({ t: 5 });
    await d.getContainer(pauseName(name)).stop({ t: 5 });

    const adopted = await PodRunner.adopt({ docker: d, podName: name, backoffScale: 0.05 });
    runners.push(adopted);
    await adopted.waitFor((v) => v.ready, { timeoutMs: 60_000 });
    // Each container's last start, in the pod's order (an i2 not run again would come first).
    expect(await startOrder(name)).toEqual(POD_ORDER);
    await adopted.delete();
  });
});
