import {
  APP_DEFAULTS,
  Labels,
  isDomainError,
  type App,
  type PodView,
  type Release,
  type Upstream,
} from '@sidecar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerTarget } from './docker-target.js';
import { InMemoryRouteTable } from './in-memory-route-table.js';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from '@sidecar/kubelet/test-support';
import { removePodObjects } from '@sidecar/kubelet';

/**
 * The Docker target's rollout against the real engine, with the platform's own
 * pod template: a logic sidecar (startup probe on /workspace/.ready) and the
 * runtime (httpd on 8080, readiness GET /__sidecar/ready).
 */
const d = docker();
const appName = uniqueName('tgt');

/** Snapshots the target's pods at the moment routes move, to check surge order. */
class RecordingRouteTable extends InMemoryRouteTable {
  target: DockerTarget | undefined;
  readonly seenAtSet: PodView[][] = [];
  override async set(app: string, upstreams: Upstream[]): Promise<void> {
    if (this.target) this.seenAtSet.push(await this.target.status(app));
    await super.set(app, upstreams);
  }
}

const routes = new RecordingRouteTable();
const settings = { probePeriodSeconds: 1, terminationGracePeriodSeconds: 5 };
// A platform id of its own: adopt() must not take the pods of tests running alongside.
const newTarget = () =>
  new DockerTarget({
    docker: d,
    routes,
    pauseImage: TEST_IMAGES.pause,
    backoffScale: 0.05,
    // Room for a pod's start under the whole suite's load (the never-ready case waits this long).
    readyTimeoutMs: 30_000,
    settings,
    platformId: appName,
  });
let target = newTarget();
routes.target = target;

const app: App = {
  ...APP_DEFAULTS,
  name: appName,
  env: { GREETING: 'hi' },
  secrets: { TOKEN: 'top-secret-value' },
  resources: { memory: '64Mi', cpu: '500m' },
  sidecars: { ...APP_DEFAULTS.sidecars, logs: false, tls: { enabled: false } },
  currentRelease: null,
  status: 'deploying',
  createdAt: new Date().toISOString(),
};
const release = (version: number, image: string = TEST_IMAGES.logic): Release => ({
  version,
  app: appName,
  image,
  imageDigest: 'sha256:test',
  runtimeImage: TEST_IMAGES.runtime,
  env: {},
  manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' },
  createdAt: new Date().toISOString(),
  deployId: `d${version}`,
});
const rollout = (version: number, image?: string, replicas = 1) => {
  const lines: string[] = [];
  const done = target.apply({
    app: { ...app, replicas, currentRelease: version - 1 || null },
    release: release(version, image),
    signal: new AbortController().signal,
    log: (l) => lines.push(l),
  });
  return { done, lines };
};
const get = async (address: string, path: string) => (await fetch(`http://${address}${path}`)).text();
const appContainers = () =>
  d.listContainers({ all: true, filters: { label: [`${Labels.managed}=true`, `${Labels.app}=${appName}`] } });

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await target.close();
  const pods = new Set((await appContainers()).map((c) => c.Labels[Labels.pod]!));
  for (const pod of pods) await removePodObjects(d, pod);
});

describe('DockerTarget', () => {
  it('v1: pods become ready, then routes point at them', async () => {
    const t0 = Date.now();
    const { done, lines } = rollout(1);
    await done;
    console.log(`v1 rollout (start → Ready → routed): ${Date.now() - t0} ms`);
    const [up] = await routes.get(appName);
    // The pod's IP on the pod network, not a port published on loopback: no userland proxy on the way.
    expect(up?.address).toMatch(/^(?!127\.)\d+\.\d+\.\d+\.\d+:8080$/);
    expect((await get(up!.address, '/index.html')).trim()).toBe('hello from 1');
    expect(lines.some((l) => /^pod .+: app started$/.test(l))).toBe(true);
    expect(lines.some((l) => /^pod .+: runtime ready$/.test(l))).toBe(true);
    const [pod] = await target.status(appName);
    expect(pod).toMatchObject({ release: 1, phase: 'Running', ready: true });
    // Secrets reach the runtime's env but never a label.
    for (const c of await appContainers()) expect(JSON.stringify(c.Labels)).not.toContain('top-secret-value');
  });

  it('v2: the new pod is ready before routes move, and the old pod is deleted after', async () => {
    const before = (await target.status(appName)).map((p) => p.name);
    await rollout(2).done;
    const atSet = routes.seenAtSet.at(-1)!;
    expect(atSet.find((p) => p.release === 2)?.ready).toBe(true);
    expect(atSet.find((p) => p.name === before[0])?.phase).toBe('Running'); // the old pod still served then
    const [up] = await routes.get(appName);
    expect((await get(up!.address, '/index.html')).trim()).toBe('hello from 2');
    const pods = await target.status(appName);
    expect(pods.map((p) => p.release)).toEqual([2]);
    const names = new Set((await appContainers()).map((c) => c.Labels[Labels.pod]));
    expect(names.has(before[0])).toBe(false);
  });

  it('a release that never becomes ready fails with not_ready; v2 keeps serving', async () => {
    const routed = await routes.get(appName);
    const error = await rollout(3, TEST_IMAGES.logicBroken).done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDomainError(error) && error.code).toBe('not_ready');
    const message = (error as Error).message;
    expect(message).toContain('Readiness probe failed: HTTP probe failed with statuscode: 404');
    expect(message).toContain('runtime: serving /workspace on :8080'); // the runtime's last log lines
    expect(await routes.get(appName)).toEqual(routed);
    const pods = await target.status(appName);
    expect(pods.map((p) => [p.release, p.ready])).toEqual([[2, true]]);
    expect((await get(routed[0]!.address, '/index.html')).trim()).toBe('hello from 2');
    expect((await appContainers()).every((c) => c.Labels[Labels.release] === '2')).toBe(true);
  }, 90_000);

  it('scaling 1 → 3 rolls one pod at a time: never more than one extra pod, only Ready pods routed', async () => {
    routes.seenAtSet.length = 0;
    await rollout(4, undefined, 3).done;
    expect(routes.seenAtSet.length).toBeGreaterThanOrEqual(3);
    for (const pods of routes.seenAtSet) expect(pods.length).toBeLessThanOrEqual(3 + 1);
    const routed = await routes.get(appName);
    expect(routed).toHaveLength(3);
    const pods = await target.status(appName);
    expect(pods.map((p) => [p.release, p.ready])).toEqual([
      [4, true],
      [4, true],
      [4, true],
    ]);
  });

  it('a serving pod that stops being Ready leaves the routes, and returns when Ready again', async () => {
    const [victim] = await target.status(appName);
    const logic = (await appContainers()).find(
      (c) => c.Labels[Labels.pod] === victim!.name && c.Labels[Labels.container] === 'app',
    )!;
    const exec = async (cmd: string[]) => {
      const e = await d.getContainer(logic.Id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
      const stream = await e.start({});
      await new Promise((r) => stream.on('end', r).resume());
    };
    await exec(['rm', '/workspace/__sidecar/ready']);
    await expect
      .poll(async () => (await routes.get(appName)).map((u) => u.pod), { timeout: 15_000, interval: 100 })
      .not.toContain(victim!.name);
    expect(await routes.get(appName)).toHaveLength(2);
    await exec(['sh', '-c', 'echo ok > /workspace/__sidecar/ready']);
    await expect
      .poll(async () => (await routes.get(appName)).map((u) => u.pod), { timeout: 15_000, interval: 100 })
      .toContain(victim!.name);
  });

  it('scaling 3 → 1 keeps the new pod serving and stops the rest', async () => {
    await rollout(5, undefined, 1).done;
    const pods = await target.status(appName);
    expect(pods.map((p) => [p.release, p.ready])).toEqual([[5, true]]);
    expect((await routes.get(appName)).map((u) => u.pod)).toEqual([pods[0]!.name]);
  });

  it('once a release serves, the next rollout may begin while the old pod still stops; no stopping pod is ever routed', async () => {
    const [v5] = await target.status(appName);
    const routedSets: string[][] = [];
    const record = routes.set.bind(routes);
    routes.set = async (a, ups) => {
      routedSets.push(ups.map((u) => u.pod));
      await record(a, ups);
    };
    let v7: Promise<void> | undefined;
    let v5StillThere = false;
    const v6 = target.apply({
      app: { ...app, replicas: 1, currentRelease: 5 },
      release: release(6),
      signal: new AbortController().signal,
      log: () => undefined,
      onServing: async () => {
        // v6 serves; v5 was taken out of the routes and is still being stopped (its runtime drains).
        v5StillThere = (await appContainers()).some((c) => c.Labels[Labels.pod] === v5!.name);
        v7 = target.apply({
          app: { ...app, replicas: 1, currentRelease: 6 },
          release: release(7),
          signal: new AbortController().signal,
          log: () => undefined,
        });
        await v7;
      },
    });
    await v6;
    await v7;
    routes.set = record;
    expect(v5StillThere).toBe(true);
    const afterV6 = routedSets.slice(routedSets.findIndex((set) => !set.includes(v5!.name)));
    for (const set of afterV6) expect(set).not.toContain(v5!.name);
    const pods = await target.status(appName);
    expect(pods.map((p) => [p.release, p.ready])).toEqual([[7, true]]);
    expect((await routes.get(appName)).map((u) => u.pod)).toEqual([pods[0]!.name]);
    expect(new Set((await appContainers()).map((c) => c.Labels[Labels.release]))).toEqual(new Set(['7']));
  });

  it('a restarted worker adopts the pods: status and restarts keep working', async () => {
    const [pod] = await target.status(appName);
    await target.close();
    target = newTarget();
    routes.target = target;
    const { adopted, failed } = await target.adopt();
    expect(failed).toEqual([]);
    expect(adopted).toContain(pod!.name);
    expect(adopted).toEqual([pod!.name]);
    const [view] = await target.status(appName);
    expect(view).toMatchObject({ name: pod!.name, release: 7, phase: 'Running' });
    // Supervision resumed: the runtime dies and is restarted (restartPolicy Always).
    const runtime = (await appContainers()).find((c) => c.Labels[Labels.container] === 'runtime')!;
    await d.getContainer(runtime.Id).kill({ signal: 'SIGKILL' });
    await expect
      .poll(async () => (await target.status(appName))[0]?.containerStatuses[0], { timeout: 15_000, interval: 200 })
      .toMatchObject({ restartCount: 1, ready: true });
  });

  it('remove: routes go, then every labelled container and volume of the app', async () => {
    await target.remove(appName);
    expect(await routes.get(appName)).toEqual([]);
    expect(await target.status(appName)).toEqual([]);
    expect(await appContainers()).toEqual([]);
    const { Volumes } = await d.listVolumes({
      filters: { label: [`${Labels.managed}=true`, `${Labels.app}=${appName}`] },
    });
    expect(Volumes ?? []).toEqual([]);
  });
});
