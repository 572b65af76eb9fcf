import { Labels } from '@sidecar/core';
import { PLATFORM_LABEL, PodRunner, listPodContainers } from '@sidecar/kubelet';
import {
  TEST_IMAGES,
  cleanupPods,
  container,
  docker,
  ensureTestImages,
  testPod,
  uniqueName,
  waitForLog,
} from '@sidecar/kubelet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerTarget } from './docker-target.js';
import { InMemoryRouteTable } from './in-memory-route-table.js';

/** A worker start meets a pod of its platform that cannot be adopted: it is deleted, gracefully, and said so. */
const d = docker();
const platformId = uniqueName('unadoptable');
const name = uniqueName('broken');

/** The `die` events of the pod's app containers since `sinceMs`, in order: container name and exit code. */
async function deaths(sinceMs: number): Promise<string[]> {
  const stream = (await d.getEvents({
    since: Math.floor(sinceMs / 1000),
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { type: ['container'], event: ['die'], label: [`${Labels.pod}=${name}`] },
  })) as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { timeNano: number; Actor: { Attributes: Record<string, string> } })
    .filter((e) => e.timeNano >= sinceMs * 1e6 && e.Actor.Attributes[Labels.role] !== 'pause')
    .sort((a, b) => a.timeNano - b.timeNano)
    .map((e) => `${e.Actor.Attributes[Labels.container]} ${e.Actor.Attributes.exitCode}`);
}

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await cleanupPods(d, [name]);
});

describe('DockerTarget.adopt', () => {
  it('deletes a pod of its platform that cannot be adopted: mains first, then sidecars in reverse order, each on TERM; logs it', async () => {
    const pod = testPod(name, {
      initContainers: [container('s1', { restartPolicy: 'Always' }), container('s2', { restartPolicy: 'Always' })],
      containers: [container('m1'), container('m2')],
    });
    pod.metadata.labels = { ...pod.metadata.labels, [Labels.app]: 'broken', [PLATFORM_LABEL]: platformId };
    const first = new PodRunner({ docker: d, pod, pauseImage: TEST_IMAGES.pause });
    await first.start();
    await first.waitFor((v) => v.containerStatuses.every((s) => s.state.running !== undefined), { timeoutMs: 30_000 });
    await waitForLog(d, name, ['s1 start', 's2 start', 'm1 start', 'm2 start']);
    await first.close(); // the worker that ran it dies
    // Someone removed a container by hand: the pod cannot be adopted any more.
    await d.getContainer(`${name}-m2`).remove({ force: true });

    const lines: string[] = [];
    const t0 = Date.now();
    const target = new DockerTarget({
      docker: d,
      routes: new InMemoryRouteTable(),
      pauseImage: TEST_IMAGES.pause,
      platformId,
    });
    const { adopted, failed } = await target.adopt({ log: (line) => lines.push(line) });
    expect(adopted).toEqual([]);
    expect(failed.map((f) => [f.pod, f.error.message])).toEqual([[name, `pod ${name}: container m2 is missing`]]);
    await target.close(); // waits for the deletion it began
    expect(lines).toEqual([
      `pod ${name} cannot be adopted (pod ${name}: container m2 is missing); deleting it`,
      `pod ${name}, which could not be adopted, is deleted`,
    ]);
    expect(await listPodContainers(d, name)).toEqual([]);
    // Graceful, in kubelet order: each container exited 0 from its TERM trap, m1 first, then s2, then s1.
    expect(await deaths(t0)).toEqual(['m1 0', 's2 0', 's1 0']);
  });
});
