import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Labels } from '@sidecar/core';
import { PLATFORM_LABEL } from '@sidecar/kubelet';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from '@sidecar/kubelet/test-support';
import { connectRedis, createStores, SecretBox } from '@sidecar/store';
import { LogCollector } from './log-collector.js';

// The hand-off between the Docker target and the log collector (drainPod), on real Docker and Redis:
// what a container printed up to its exit is stored before the container may be removed.
const d = docker();
const redis = connectRedis(inject('redisUrl'));
const stores = createStores(
  redis,
  `t-${randomUUID().slice(0, 8)}:`,
  new SecretBox([{ id: 'k', key: randomBytes(32) }]),
);
const platformId = uniqueName('drain');
const made: string[] = [];
beforeAll(() => ensureTestImages(d), 120_000);
afterAll(async () => {
  await Promise.all(
    made.map((id) =>
      d
        .getContainer(id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  await stores.close();
  await redis.quit();
});

/** A container of an app pod, labelled as the kubelet labels them, running `script`. */
async function appContainer(app: string, pod: string, script: string) {
  const c = await d.createContainer({
    Image: TEST_IMAGES.base,
    Cmd: ['sh', '-c', script],
    HostConfig: { NetworkMode: 'none' }, // it needs none (and this host's default bridge may be absent)
    Labels: {
      [Labels.managed]: 'true',
      [PLATFORM_LABEL]: platformId,
      [Labels.app]: app,
      [Labels.pod]: pod,
      [Labels.container]: 'runtime',
      [Labels.release]: '1',
    },
  });
  made.push(c.id);
  return c;
}

const stored = async (app: string) => (await stores.appLogs.tail(app, { n: 10_000 })).map((l) => l.line);

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('LogCollector.drainPod', () => {
  it('stores every line of a container that ran and exited between two scans', async () => {
    const app = uniqueName('between');
    const pod = `${app}-v1-aaaaa`;
    // The collector's one scan runs before the container exists; it never sees it running.
    const collector = new LogCollector({ docker: d, stores, platformId, intervalMs: 3_600_000 });
    collector.start();
    try {
      const c = await appContainer(app, pod, 'for i in $(seq 1 300); do echo "line $i"; done');
      await c.start();
      await c.wait();
      await collector.drainPod(pod);
      await c.remove({ force: true });
      expect(await stored(app)).toEqual(Array.from({ length: 300 }, (_, i) => `line ${i + 1}`));
    } finally {
      await collector.close();
    }
  });

  it('stores what a followed container prints in its SIGTERM handler, once, before drainPod returns', async () => {
    const app = uniqueName('followed');
    const pod = `${app}-v1-bbbbb`;
    const collector = new LogCollector({ docker: d, stores, platformId, intervalMs: 100 });
    collector.start();
    try {
      const c = await appContainer(
        app,
        pod,
        `trap 'for i in $(seq 1 200); do echo "bye $i"; done; exit 0' TERM; echo started; while :; do sleep 1 & wait $!; done`,
      );
      await c.start();
      await until('the collector following the container', async () => (await stored(app)).includes('started'));
      await c.kill({ signal: 'SIGTERM' });
      await c.wait();
      await collector.drainPod(pod);
      await c.remove({ force: true });
      expect(await stored(app)).toEqual(['started', ...Array.from({ length: 200 }, (_, i) => `bye ${i + 1}`)]);
    } finally {
      await collector.close();
    }
  });

  it('gives up after its bound and says so in the app log (a container that never ended)', async () => {
    const app = uniqueName('bounded');
    const pod = `${app}-v1-ccccc`;
    const collector = new LogCollector({ docker: d, stores, platformId, intervalMs: 100, drainTimeoutMs: 500 });
    collector.start();
    try {
      const c = await appContainer(app, pod, 'echo still running; while :; do sleep 1 & wait $!; done');
      await c.start();
      // What it printed is stored first (the bound below is for the end of its output, which never comes).
      await until('the collector following the container', async () => (await stored(app)).includes('still running'));
      await collector.drainPod(pod);
      const lines = await stored(app);
      expect(lines).toContain('still running');
      expect(lines.at(-1)).toMatch(
        /^sidecar: container runtime of pod .* was removed before its output was read to the end \(waited 0.5 s\); its last lines may be missing$/,
      );
    } finally {
      await collector.close();
    }
  });
});
