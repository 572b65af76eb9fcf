import { rmSync } from 'node:fs';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { createApp, deploy, waitForDeploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';

// Nothing is lost when things break: cancels stop builds, a killed worker's deploy completes,
// and a platform restart keeps apps running and supervised.
const docker = new Docker();
let p: RunningPlatform;
beforeAll(async () => {
  p = await startPlatform();
}, 180_000);
afterAll(async () => {
  await stopPlatform(p);
}, 120_000);

// A dependency install takes seconds, long enough to act on a build in flight.
const expressBundle = (tag: string) =>
  tgzOf({
    'package.json': JSON.stringify({
      name: 'x',
      main: 'app.js',
      dependencies: { express: '^4.21.0', lodash: '^4.17.21' },
    }),
    'app.js': `const app = require('express')(); app.get('/', (q, s) => s.send('${tag}')); module.exports = app;\n`,
  });

async function upload(app: string, bundle: Buffer): Promise<string> {
  const res = await p.api$(`/api/v1/apps/${app}/deploys`, {
    method: 'POST',
    headers: { 'content-type': 'application/gzip' },
    body: new Uint8Array(bundle),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

/** Waits (bounded) until the deploy's log has a line matching `re`. */
async function waitForLogLine(app: string, id: string, re: RegExp): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const log = await (await p.api$(`/api/v1/apps/${app}/deploys/${id}/logs`)).text();
    if (re.test(log)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no log line matching ${re}`);
}

describe('resilience', () => {
  it('a cancelled deploy stops its build: the npm container goes, no release is made', async () => {
    await createApp(p, 'cancelme');
    const id = await upload('cancelme', await expressBundle('never'));
    await waitForLogLine('cancelme', id, /installing .* with npm/);
    const res = await p.api$(`/api/v1/apps/cancelme/deploys/${id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(202);
    const { deploy: d, log } = await waitForDeploy(p, 'cancelme', id);
    expect(d.status, log).toBe('cancelled');
    expect(d.release).toBeNull();
    const left = await docker.listContainers({ all: true, filters: { label: [`sidecar.paas/deploy=${id}`] } });
    expect(left).toEqual([]);
    expect((await (await p.api$('/api/v1/apps/cancelme/releases')).json()).items).toEqual([]);
  });

  it('a worker killed mid-build does not lose the deploy: it completes after the worker is back', async () => {
    await createApp(p, 'survivor');
    const id = await upload('survivor', await expressBundle('survived'));
    await waitForLogLine('survivor', id, /installing .* with npm/);
    const before = p.pids().worker!;
    process.kill(before, 'SIGKILL');
    const { deploy: d, log } = await waitForDeploy(p, 'survivor', id);
    expect(p.pids().worker).not.toBe(before); // the launcher restarted it
    expect(d.status, log).toBe('succeeded');
    expect(await p.get('survivor')).toEqual({ status: 200, body: 'survived' });
    // The killed worker's npm container went with the retry; nothing of the build is left.
    expect(
      await docker.listContainers({
        all: true,
        filters: { label: [`sidecar.paas/deploy=${id}`, 'sidecar.paas/kind=npm-install'] },
      }),
    ).toEqual([]);
  }, 120_000);

  it('a platform restart keeps apps running, adopts their pods and deploys over them', async () => {
    await createApp(p, 'steady');
    const v1 = await deploy(p, 'steady', await tgzOf({ 'index.js': "module.exports = (q, s) => s.end('steady v1');" }));
    expect(v1.deploy.status, v1.log).toBe('succeeded');
    const { dataDir, platformId, routerPort } = p;
    const apiPort = Number(new URL(p.api).port);
    await p.stop({ keepData: true });
    // The platform is down; the app's containers are not.
    const running = await docker.listContainers({
      filters: { label: [`sidecar.paas/platform=${platformId}`, 'sidecar.paas/app=steady', 'sidecar.paas/container'] },
    });
    expect(running.map((c) => c.Labels['sidecar.paas/container']).sort()).toEqual(['app', 'logs', 'runtime']);

    p = await startPlatform({}, { dataDir, platformId, apiPort, routerPort });
    try {
      expect(await p.get('steady')).toEqual({ status: 200, body: 'steady v1' });
      const pods = await waitForPods('steady', (items) => items.length === 1 && items[0]!.ready);
      const adoptedPod = pods[0]!.name;
      const v2 = await deploy(
        p,
        'steady',
        await tgzOf({ 'index.js': "module.exports = (q, s) => s.end('steady v2');" }),
      );
      expect(v2.deploy.status, v2.log).toBe('succeeded');
      expect(await p.get('steady')).toEqual({ status: 200, body: 'steady v2' });
      const after = await docker.listContainers({ all: true, filters: { label: [`sidecar.paas/pod=${adoptedPod}`] } });
      expect(after).toEqual([]); // the adopted v1 pod was replaced, not left behind
    } finally {
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
    }
  }, 180_000);
});

async function waitForPods(app: string, ok: (items: Array<{ name: string; ready: boolean }>) => boolean) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const items = (await (await p.api$(`/api/v1/apps/${app}/pods`)).json()).items as Array<{
      name: string;
      ready: boolean;
    }>;
    if (ok(items)) return items;
    if (Date.now() > deadline) throw new Error(`pods of ${app} never matched: ${JSON.stringify(items)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
