import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { KubeLabels, Labels, PROCINFO_SNAPSHOT_COMMAND } from '@sidecar/core';
import { connectRedis, createStores, SecretBox } from '@sidecar/store';
import { KubeProcessInsight } from './kube-process-insight.js';
import { MAX_SNAPSHOT_BYTES } from '../docker/process-insight.js';
import { FakePodExec } from './fake-pod-exec.js';
import { podObject } from './fake-pod-logs.js';
import { FakeApiServer } from './test-support.js';

// Contract tests: process insight against a fake API server (pods in its object store, exec
// answered by FakePodExec over a real WebSocket; not a kubelet, not a cluster), storing into the
// real Redis of the global setup.
const redis = connectRedis(inject('redisUrl'));
const stores = createStores(
  redis,
  `t-${randomUUID().slice(0, 8)}:`,
  new SecretBox([{ id: 'k', key: randomBytes(32) }]),
);
afterAll(async () => {
  await stores.close();
  await redis.quit();
});

const NS = 'apps';
const PLATFORM = 'kproc';
const WAIT = { timeout: 15_000, interval: 50 };
let api: FakeApiServer;
let exec: FakePodExec;
let insights: KubeProcessInsight[] = [];

beforeEach(async () => {
  api = new FakeApiServer();
  await api.start();
  exec = new FakePodExec(api);
});
afterEach(async () => {
  await Promise.all(insights.map((i) => i.close()));
  insights = [];
  await api.close();
  vi.restoreAllMocks();
});

/** What the insight logged at error level: the fields it gave, with its message. */
let logged: Record<string, unknown>[] = [];
const log = {
  info: () => undefined,
  warn: () => undefined,
  error: (fields: object, msg: string) => void logged.push({ ...fields, msg }),
};
const errorsOf = (pod: string) => logged.filter((l) => l.pod === pod).map((l) => String(l.error));

function insight(over: { snapshotTimeoutMs?: number } = {}): KubeProcessInsight {
  logged = [];
  const i = new KubeProcessInsight({
    kubeConfig: api.kubeConfig(),
    namespace: NS,
    stores,
    platformId: PLATFORM,
    intervalMs: 50,
    log,
    ...over,
  });
  insights.push(i);
  i.start();
  return i;
}

const hex = () => randomBytes(32).toString('hex');

/** A pod as the template makes it (sidecars native, the runtime the main container), with containerd ids. */
function putPod(
  app: string,
  name: string,
  over: { platformId?: string; procinfo?: boolean; scheme?: string } = {},
): { path: string; runtimeId: string; otherId: string } {
  const path = `/api/v1/namespaces/${NS}/pods/${name}`;
  const [runtimeId, otherId] = [hex(), hex()];
  const scheme = over.scheme ?? 'containerd';
  api.put(
    path,
    podObject({
      ns: NS,
      name,
      platformId: over.platformId ?? PLATFORM,
      app,
      release: 1,
      init: over.procinfo === false ? ['logs'] : ['logs', 'procinfo'],
      containers: ['runtime'],
      containerIds: {
        logs: `${scheme}://${otherId}`,
        procinfo: `${scheme}://${hex()}`,
        runtime: `${scheme}://${runtimeId}`,
      },
    }),
  );
  return { path, runtimeId, otherId };
}

/** What `procinfo.sh snapshot` prints in a kubelet's pod: cgroup v2 paths under the pod's slice. */
function snapshot(runtimeId: string, otherId: string): string {
  const cg = (id: string) =>
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-${id}.scope`;
  return [
    'uptime 300.00',
    `proc\t1\t2\t800\t${cg(otherId)}\t/sidecar/shipper `,
    `proc\t12\t40\t30000\t${cg(runtimeId)}\tnode server.js `,
    'uptime 300.50',
    `proc\t1\t2\t800\t${cg(otherId)}\t/sidecar/shipper `,
    `proc\t12\t65\t30100\t${cg(runtimeId)}\tnode server.js `,
    '',
  ].join('\n');
}

function scriptSnapshot(pod: string, ids: { runtimeId: string; otherId: string }): void {
  exec.script(NS, pod, 'procinfo', (command) =>
    command.join(' ') === PROCINFO_SNAPSHOT_COMMAND.join(' ')
      ? { stdout: snapshot(ids.runtimeId, ids.otherId) }
      : { stderr: 'usage\n', exitCode: 2 },
  );
}

const NODE_SERVER = [{ pid: 12, command: 'node server.js', cpuPercent: 50, memoryBytes: 30100 * 1024 }];
const items = async (app: string, pod: string) => (await stores.processes.get(app, pod))?.items;

describe('KubeProcessInsight (against a fake API server)', () => {
  it("stores the runtime container's processes from the procinfo sidecar's snapshot (containerd and docker container ids)", async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    const one = putPod(app, `${app}-1`);
    const two = putPod(app, `${app}-2`, { scheme: 'docker' });
    scriptSnapshot(`${app}-1`, one);
    scriptSnapshot(`${app}-2`, two);
    insight();
    await expect.poll(() => items(app, `${app}-1`), WAIT).toEqual(NODE_SERVER);
    await expect.poll(() => items(app, `${app}-2`), WAIT).toEqual(NODE_SERVER);
  });

  it('asks for the exec the API server expects: a WebSocket on pods/<pod>/exec in the procinfo container with the snapshot command, stdout read, no stdin or tty', async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    const pod = `${app}-1`;
    scriptSnapshot(pod, putPod(app, pod));
    insight();
    await expect.poll(() => exec.callsTo(NS, pod).length, WAIT).toBeGreaterThan(0);
    const call = exec.callsTo(NS, pod)[0]!;
    expect(call.container).toBe('procinfo');
    expect(call.command).toEqual([...PROCINFO_SNAPSHOT_COMMAND]);
    expect(call.protocol).toBe('v5.channel.k8s.io');
    expect(Object.fromEntries(call.query)).toMatchObject({
      container: 'procinfo',
      stdout: 'true',
      stdin: 'false',
      tty: 'false',
    });
    expect(api.sent('GET', `/api/v1/namespaces/${NS}/pods/${pod}/exec`).length).toBeGreaterThan(0);
    // The pods are listed with the platform's own selector, as the log collector lists them.
    expect(api.sent('GET', `/api/v1/namespaces/${NS}/pods`)[0]?.query.labelSelector).toBe(
      `${Labels.managed}=true,${KubeLabels.platform}=${PLATFORM}`,
    );
  });

  it("execs nothing in a pod without procinfo, nor in another platform's pod", async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    putPod(app, `${app}-plain`, { procinfo: false });
    const foreign = putPod(app, `${app}-foreign`, { platformId: 'someone-else' });
    scriptSnapshot(`${app}-foreign`, foreign);
    const witness = `${app}-witness`;
    scriptSnapshot(witness, putPod(app, witness));
    insight();
    // A second exec in the witness means a whole scan (one at a time) has gone by.
    await expect.poll(() => exec.callsTo(NS, witness).length, WAIT).toBeGreaterThanOrEqual(2);
    expect(exec.callsTo(NS, `${app}-plain`)).toEqual([]);
    expect(exec.callsTo(NS, `${app}-foreign`)).toEqual([]);
    expect(await stores.processes.get(app, `${app}-foreign`)).toBeUndefined();
  });

  it('logs a failed exec once while it keeps failing, goes on with the other pods, and succeeds on a later scan', async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    const [bad, good] = [`${app}-bad`, `${app}-good`];
    scriptSnapshot(bad, putPod(app, bad));
    scriptSnapshot(good, putPod(app, good));
    exec.failNext(NS, bad, 'procinfo', 3);
    insight();
    await expect.poll(() => items(app, good), WAIT).toEqual(NODE_SERVER);
    await expect.poll(() => items(app, bad), WAIT).toEqual(NODE_SERVER);
    expect(errorsOf(bad)).toEqual(['Unexpected server response: 500']);
  });

  it("logs a snapshot command that exits non-zero with the API server's status message", async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    const pod = `${app}-1`;
    putPod(app, pod);
    exec.script(NS, pod, 'procinfo', () => ({ stderr: 'cat: /proc/1/stat: Permission denied\n', exitCode: 1 }));
    insight();
    await expect.poll(() => exec.callsTo(NS, pod).length, WAIT).toBeGreaterThanOrEqual(2);
    const lines = errorsOf(pod);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('command terminated with non-zero exit code');
    expect(lines[0]).toContain('Permission denied');
    expect(await stores.processes.get(app, pod)).toBeUndefined();
  });

  it('drops a snapshot larger than the cap, as on Docker, and says so', async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    const pod = `${app}-1`;
    putPod(app, pod);
    exec.script(NS, pod, 'procinfo', () => ({ stdout: 'x'.repeat(MAX_SNAPSHOT_BYTES + 1) }));
    insight();
    await expect
      .poll(() => errorsOf(pod), WAIT)
      .toEqual([`procinfo snapshot larger than ${MAX_SNAPSHOT_BYTES} bytes; skipped`]);
    expect(await stores.processes.get(app, pod)).toBeUndefined();
  });

  it('close() ends an exec in progress (a command that never exits) and resolves', async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    const pod = `${app}-1`;
    putPod(app, pod);
    exec.script(NS, pod, 'procinfo', () => ({ stdout: 'uptime 1.00\n', hang: true }));
    // No snapshot timeout within the test's: only close() can end this exec.
    const i = insight({ snapshotTimeoutMs: 3_600_000 });
    await expect.poll(() => exec.open(NS, pod), WAIT).toBe(1);
    await i.close();
    await expect.poll(() => exec.open(NS, pod), WAIT).toBe(0);
    expect(await stores.processes.get(app, pod)).toBeUndefined();
  });

  it("stops exec'ing in a pod that goes", async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    const [gone, stays] = [`${app}-gone`, `${app}-stays`];
    const { path } = putPod(app, gone);
    scriptSnapshot(gone, { runtimeId: hex(), otherId: hex() });
    scriptSnapshot(stays, putPod(app, stays));
    insight();
    await expect.poll(() => exec.callsTo(NS, gone).length, WAIT).toBeGreaterThan(0);
    api.drop(path);
    // Two more scans of the pod that stays: the first may have listed before the drop.
    const seen = exec.callsTo(NS, stays).length;
    await expect.poll(() => exec.callsTo(NS, stays).length, WAIT).toBeGreaterThanOrEqual(seen + 2);
    const after = exec.callsTo(NS, gone).length;
    await expect.poll(() => exec.callsTo(NS, stays).length, WAIT).toBeGreaterThanOrEqual(seen + 4);
    expect(exec.callsTo(NS, gone).length).toBe(after);
  });
});
