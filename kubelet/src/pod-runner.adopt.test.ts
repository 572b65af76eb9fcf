import { Labels, type PodView } from '@sidecar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_LABEL, POD_SPEC_LABEL, containerName } from './container-options.js';
import { PodRunner } from './pod-runner.js';
import { TEST_IMAGES, cleanupPods, container, docker, ensureTestImages, testPod, uniqueName } from './test-support.js';

/** A restarted worker rebuilds its runner from Docker labels and resumes supervision. */
const d = docker();
const name = uniqueName('adopt');
const passiveName = uniqueName('adopt-passive');
const completeName = uniqueName('adopt-complete');
const incompleteName = uniqueName('adopt-incomplete');
const otherPlatformName = uniqueName('adopt-other');
const runners: PodRunner[] = [];
const status = (v: PodView, n: string) =>
  [...v.initContainerStatuses, ...v.containerStatuses].find((c) => c.name === n)!;

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await Promise.allSettled(runners.map((r) => r.close()));
  await cleanupPods(d, [name, passiveName, completeName, incompleteName, otherPlatformName]);
});

describe('PodRunner.adopt', () => {
  it('resumes a running pod without starting anything twice, and restarts what dies afterwards', async () => {
    const pod = testPod(name, {
      initContainers: [
        container('s1', { restartPolicy: 'Always', readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1 } }),
      ],
      containers: [container('m1', { env: [{ name: 'SECRET', value: 'never-in-a-label' }] })],
    });
    const first = new PodRunner({ docker: d, pod, pauseImage: TEST_IMAGES.pause, backoffScale: 0.05 });
    runners.push(first);
    await first.start();
    await first.waitFor((v) => v.ready, { timeoutMs: 20_000 });
    await first.close();
    await first.close(); // safe twice

    const pause = await d.getContainer(`${name}_pause`).inspect();
    expect(pause.Config.Labels[POD_SPEC_LABEL]).toContain('"name":"SECRET"');
    expect(JSON.stringify(pause.Config.Labels)).not.toContain('never-in-a-label');
    const startedAt = (await d.getContainer(containerName(name, 's1')).inspect()).State.StartedAt;

    expect(await PodRunner.list(d)).toContain(name);
    const adopted = await PodRunner.adopt({ docker: d, podName: name, backoffScale: 0.05 });
    runners.push(adopted);
    const v = await adopted.waitFor((x) => x.ready, { timeoutMs: 20_000 });
    expect(v.phase).toBe('Running');
    expect(status(v, 's1')).toMatchObject({ started: true, ready: true, restartCount: 0 });
    expect((await d.getContainer(containerName(name, 's1')).inspect()).State.StartedAt).toBe(startedAt);

    // The sidecar's process dies: the adopted runner restarts it (rule 6).
    await d.getContainer(containerName(name, 's1')).kill({ signal: 'SIGKILL' });
    await adopted.waitFor((x) => status(x, 's1').restartCount === 1 && status(x, 's1').ready, { timeoutMs: 20_000 });
    // The main too (restartPolicy Always); `docker start` keeps its env, secrets included.
    await d.getContainer(containerName(name, 'm1')).kill({ signal: 'SIGKILL' });
    await adopted.waitFor((x) => status(x, 'm1').restartCount === 1 && status(x, 'm1').state.running !== undefined, {
      timeoutMs: 20_000,
    });
    expect((await d.getContainer(containerName(name, 'm1')).inspect()).Config.Env).toContain('SECRET=never-in-a-label');

    await adopted.delete();
    expect(await PodRunner.list(d)).not.toContain(name);
  });

  it('with supervise: false reports the pod and stops it without restarting anything', async () => {
    const pod = testPod(passiveName, {
      restartPolicy: 'Always',
      initContainers: [container('s1', { restartPolicy: 'Always' })],
      containers: [container('m1')],
    });
    const first = new PodRunner({ docker: d, pod, pauseImage: TEST_IMAGES.pause, backoffScale: 0.05 });
    runners.push(first);
    await first.start();
    await first.waitFor((v) => status(v, 'm1').state.running !== undefined, { timeoutMs: 20_000 });
    await first.close();
    // Its supervisor is gone; the sidecar dies. A supervising adopter would restart it (rule 6).
    await d.getContainer(containerName(passiveName, 's1')).kill({ signal: 'SIGKILL' });
    await d.getContainer(containerName(passiveName, 's1')).wait({ condition: 'not-running' });

    const observer = await PodRunner.adopt({ docker: d, podName: passiveName, supervise: false });
    runners.push(observer);
    expect(status(observer.status(), 's1').state.terminated?.exitCode).toBe(137);
    expect(status(observer.status(), 'm1').state.running).toBeDefined();
    await observer.stop({ gracePeriodSeconds: 5 });
    expect((await d.getContainer(containerName(passiveName, 's1')).inspect()).State.ExitCode).toBe(137); // never restarted
    expect(status(observer.status(), 'm1').state.terminated).toBeDefined();
    // Kept after its end (`sidecar pod run --keep`): nothing runs or will run, so the phase is terminal.
    const later = await PodRunner.adopt({ docker: d, podName: passiveName, supervise: false });
    runners.push(later);
    expect(later.status().phase).toBe('Succeeded');
    await later.close();
    await observer.delete();
    expect(await PodRunner.list(d)).not.toContain(passiveName);
  });

  it("removeIncomplete removes the containers of this platform's pods that have no pause container, and nothing else", async () => {
    const platformId = uniqueName('platform');
    const onPlatform = (pod: string, id: string) => {
      const p = testPod(pod, { containers: [container('m1')] });
      p.metadata.labels = { ...p.metadata.labels, [PLATFORM_LABEL]: id };
      return p;
    };
    const pods = [
      onPlatform(completeName, platformId),
      onPlatform(incompleteName, platformId),
      onPlatform(otherPlatformName, `${platformId}-other`),
    ];
    for (const pod of pods) {
      const runner = new PodRunner({ docker: d, pod, pauseImage: TEST_IMAGES.pause });
      runners.push(runner);
      await runner.start();
      await runner.close();
    }
    // What a worker killed between creating a pod's containers and its pause record leaves behind.
    for (const pod of [incompleteName, otherPlatformName]) await d.getContainer(`${pod}_pause`).remove({ force: true });

    expect(await PodRunner.removeIncomplete(d, { platformId })).toEqual({ removed: [incompleteName], failed: [] });
    const left = async (pod: string) =>
      (await d.listContainers({ all: true, filters: { label: [`${Labels.pod}=${pod}`] } })).length;
    expect(await left(incompleteName)).toBe(0);
    expect(await left(completeName)).toBeGreaterThan(1); // its pause and m1
    expect(await left(otherPlatformName)).toBe(1); // another platform's: not this worker's to judge
    expect(await PodRunner.list(d, { platformId })).toEqual([completeName]);
  });
});
