import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pod } from '@sidecar/core';
import { NetnsPool } from './netns-pool.js';
import { PodRunner } from './pod-runner.js';
import { TEST_IMAGES, cleanupPods, docker, ensureTestImages, testPod, uniqueName } from './test-support.js';

// Tenants are isolated: a pod cannot reach another pod's ports directly (only through the router),
// while the host (probes, router) reaches both and a pod's own containers share 127.0.0.1.
const d = docker();
const names: string[] = [];
const runners: PodRunner[] = [];
// Pods in warm network holders must be as isolated as pods with sandboxes of their own.
const pool = new NetnsPool({
  docker: d,
  pauseImage: TEST_IMAGES.pause,
  platformId: uniqueName('iso'),
  size: 1,
  warm: [[]],
});

const server = (name: string): Pod =>
  testPod(name, {
    restartPolicy: 'Always',
    containers: [
      {
        name: 'web',
        image: TEST_IMAGES.base,
        command: [
          'sh',
          '-c',
          `mkdir -p /tmp/www && echo ${name} > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`,
        ],
      },
    ],
  });

async function start(pod: Pod, netnsPool?: NetnsPool): Promise<PodRunner> {
  names.push(pod.metadata.name!);
  const r = new PodRunner({ docker: d, pod, pauseImage: TEST_IMAGES.pause, ...(netnsPool ? { netnsPool } : {}) });
  runners.push(r);
  await r.start();
  await r.waitFor((v) => v.containerStatuses[0]?.state.running !== undefined, { timeoutMs: 20_000 });
  return r;
}

/** Runs wget inside a pod's container (bounded by `timeout`: busybox wget -T crashes); its exit code says whether the address answered. */
async function wgetFrom(pod: string, url: string): Promise<number> {
  const [c] = await d.listContainers({ filters: { label: [`sidecar.paas/pod=${pod}`, 'sidecar.paas/container=web'] } });
  const exec = await d
    .getContainer(c!.Id)
    .exec({ Cmd: ['timeout', '3', 'wget', '-q', '-O', '-', url], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  await new Promise((r) => stream.on('end', r).resume());
  return (await exec.inspect()).ExitCode ?? -1;
}

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await pool.close();
  await Promise.all(runners.map((r) => r.close()));
  await cleanupPods(d, names);
});

describe('pod network isolation', () => {
  it('a pod cannot reach another pod directly; the host can reach both', async () => {
    const a = await start(server(uniqueName('iso-a')));
    const b = await start(server(uniqueName('iso-b')));
    expect(await wgetFrom(a.name, 'http://127.0.0.1:8080/')).toBe(0); // wget works inside the pod
    expect(await wgetFrom(a.name, `http://${b.ip()}:8080/`)).not.toBe(0); // but not across pods
    expect((await (await fetch(`http://${b.ip()}:8080/`)).text()).trim()).toBe(b.name); // the host reaches it
  });

  it('the same holds for pods in warm network holders', async () => {
    await pool.start();
    expect(pool.available([])).toBe(1);
    const a = await start(server(uniqueName('iso-warm-a')), pool);
    const b = await start(server(uniqueName('iso-b')));
    expect((await d.getContainer(`${a.name}_pause`).inspect()).HostConfig.NetworkMode).toMatch(/^container:/);
    expect(await wgetFrom(a.name, 'http://127.0.0.1:8080/')).toBe(0);
    expect(await wgetFrom(a.name, `http://${b.ip()}:8080/`)).not.toBe(0);
    expect(await wgetFrom(b.name, `http://${a.ip()}:8080/`)).not.toBe(0);
    expect((await (await fetch(`http://${a.ip()}:8080/`)).text()).trim()).toBe(a.name);
  });
});
