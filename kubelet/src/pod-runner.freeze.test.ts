import type { PodView } from '@sidecar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerName } from './container-options.js';
import { PodRunner } from './pod-runner.js';
import {
  TEST_IMAGES,
  cleanupPods,
  container,
  docker,
  ensureTestImages,
  podLog,
  testPod,
  uniqueName,
  waitForLog,
} from './test-support.js';

/** Frozen pods (the Docker target's warm previous release and idle apps): `docker pause` under the runner. */
const d = docker();
const names = [uniqueName('freeze'), uniqueName('freeze-adopt')];
const runners: PodRunner[] = [];
const status = (v: PodView, n: string) =>
  [...v.initContainerStatuses, ...v.containerStatuses].find((c) => c.name === n)!;
const paused = async (pod: string, c: string) => (await d.getContainer(containerName(pod, c)).inspect()).State.Paused;

/** A sidecar and a main, both with a readiness probe; each logs start/TERM/exit. */
const podOf = (name: string) =>
  testPod(name, {
    initContainers: [
      container('s1', {
        restartPolicy: 'Always',
        readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1, timeoutSeconds: 10 },
      }),
    ],
    containers: [
      container('m1', { readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1, timeoutSeconds: 10 } }),
    ],
  });

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await Promise.allSettled(runners.map((r) => r.close()));
  await cleanupPods(d, names);
});

describe('PodRunner.freeze / thaw', () => {
  it('pauses every container, keeps readiness, thaws, and a frozen pod still runs its TERM handlers when deleted', async () => {
    const name = names[0]!;
    const runner = new PodRunner({ docker: d, pod: podOf(name), pauseImage: TEST_IMAGES.pause });
    runners.push(runner);
    await runner.start();
    await runner.waitFor((v) => v.ready, { timeoutMs: 30_000 });
    await waitForLog(d, name, ['s1 start', 'm1 start']);

    await runner.freeze();
    expect(runner.frozenSince).not.toBeNull();
    expect(await paused(name, 's1')).toBe(true);
    expect(await paused(name, 'm1')).toBe(true);
    expect(runner.status().ready).toBe(true); // readiness as it was: probes do not run against a frozen process
    expect(runner.status().events.map((e) => e.reason)).toContain('Frozen');
    expect(await runner.memoryBytes()).toBeGreaterThan(0);
    await runner.freeze(); // no effect twice

    await runner.thaw();
    expect(runner.frozenSince).toBeNull();
    expect(await paused(name, 's1')).toBe(false);
    expect(await paused(name, 'm1')).toBe(false);
    // Probes run again: a readiness failure after the thaw is reported.
    await d.getContainer(containerName(name, 'm1')).kill({ signal: 'SIGKILL' });
    await runner.waitFor((v) => status(v, 'm1').restartCount === 1 && v.ready, { timeoutMs: 30_000 });

    // Stopped while frozen: thawed first, so the TERM handlers run (the main, then the sidecar: rule 16).
    await runner.freeze();
    await runner.stop({ gracePeriodSeconds: 10 });
    const log = await podLog(d, name);
    expect(log.filter((l) => / (TERM|exit)$/.test(l))).toEqual(['m1 TERM', 'm1 exit', 's1 TERM', 's1 exit']);
    expect(runner.status().events.map((e) => e.reason)).toContain('Thawed');
    await runner.delete();
  }, 90_000);

  it('is recognised after adoption: stays frozen, thaws on demand, and stops gracefully', async () => {
    const name = names[1]!;
    const first = new PodRunner({ docker: d, pod: podOf(name), pauseImage: TEST_IMAGES.pause });
    runners.push(first);
    await first.start();
    await first.waitFor((v) => v.ready, { timeoutMs: 30_000 });
    await waitForLog(d, name, ['s1 start', 'm1 start']);
    await first.freeze();
    await first.close(); // the worker goes away; the pod stays frozen

    const adopted = await PodRunner.adopt({ docker: d, podName: name });
    runners.push(adopted);
    expect(adopted.frozenSince).not.toBeNull();
    expect(adopted.status().ready).toBe(true);
    expect(await paused(name, 'm1')).toBe(true);

    await adopted.thaw();
    expect(await paused(name, 'm1')).toBe(false);
    await adopted.freeze();
    await adopted.stop({ gracePeriodSeconds: 10 });
    // Kept after stop(): the handlers ran, in the kubelet's order.
    const log = await podLog(d, name);
    expect(log.indexOf('m1 TERM')).toBeGreaterThan(-1);
    expect(log.indexOf('m1 exit')).toBeLessThan(log.indexOf('s1 TERM'));
    expect(log).toContain('s1 exit');
    await adopted.delete();
  }, 90_000);
});
