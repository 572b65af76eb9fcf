import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendJson, statusBody, type FakeApiServer, type Obj } from './test-support.js';

/**
 * Emulated controllers for the fake API server (a fake, not a cluster): just enough of a
 * Deployment/ReplicaSet controller, a Job controller and a kubelet for the shared Target
 * contract suite to run against the KubernetesTarget.
 *
 * - A Deployment write makes pods of its template (labels, ownerReference, spec) and writes
 *   the status `kubectl rollout status` reads. Pods become Ready at once, unless one of the
 *   template's images is declared never-ready (as a real kubelet would find its readiness
 *   probe failing): then one such pod surges, the old pods stay, and the Deployment reports
 *   ProgressDeadlineExceeded at once. A template whose pods exist already (a rollback) takes
 *   them back, and its Progressing condition stays as it was (a failed rollout's
 *   ProgressDeadlineExceeded too), as a real controller's may when no replica count moves. Deleting a Deployment deletes its pods (background propagation, at once).
 * - A Job write makes one pod whose main command runs as a host process (the template's
 *   `sh -c 'cd <bundle> && exec "$@"' job …` wrapper aside: there is no bundle on the host);
 *   its exit code and output become the pod's terminated state and its log.
 */
type Template = {
  metadata: { labels: Record<string, string> };
  spec: { initContainers?: Container[]; containers: Container[] };
};
type Container = { name: string; image: string; command?: string[] };

const ITEM = /^(\/apis\/(apps|batch)\/v1\/namespaces\/([^/]+)\/(deployments|jobs))\/([^/]+)$/;
const now = () => new Date().toISOString();

export class FakeControllers {
  /** Pod logs by pod path, served at `.../pods/<name>/log`. */
  private readonly logs = new Map<string, string>();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly api: FakeApiServer,
    private readonly opts: { neverReady: (image: string) => boolean },
  ) {
    api.onWrite((path, obj) => this.reconcile(path, obj));
    api.on('GET', /\/pods\/[^/]+\/log$/, (req, res) => {
      const text = this.logs.get(req.path.slice(0, -'/log'.length));
      if (text === undefined) return sendJson(res, 404, statusBody(404, 'NotFound', 'no log'));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(text);
    });
  }

  /** Resolves once every job command the fake kubelet started has ended. */
  async idle(): Promise<void> {
    await Promise.all([...this.running]);
  }

  private reconcile(path: string, obj: Obj | undefined): void {
    const m = ITEM.exec(path);
    if (!m) return;
    const [, , , ns, resource, name] = m as unknown as [string, string, string, string, string, string];
    const pods = `/api/v1/namespaces/${ns}/pods`;
    // A Deployment owns pods through its ReplicaSets (`<name>-<hash>`), a Job directly.
    const ownerOf =
      resource === 'deployments' ? (owner: string) => owner.startsWith(`${name}-`) : (owner: string) => owner === name;
    const owned = [...this.api.objects.entries()].filter(
      ([p, o]) => p.startsWith(`${pods}/`) && ownerOf(o.metadata.ownerReferences?.[0]?.name ?? ''),
    );
    if (!obj) {
      for (const [p] of owned) this.api.drop(p);
      return;
    }
    if (resource === 'deployments') this.rollDeployment(path, obj, pods, owned);
    else if (owned.length === 0) this.runJobPod(pods, name, (obj.spec as { template: Template }).template);
  }

  private rollDeployment(path: string, d: Obj, pods: string, existing: [string, Obj][]): void {
    const spec = d.spec as { replicas: number; template: Template };
    const hash = createHash('sha256').update(JSON.stringify(spec.template)).digest('hex').slice(0, 10);
    const rs = `${d.metadata.name}-${hash}`;
    const mine = existing.filter(([, o]) => o.metadata.ownerReferences?.[0]?.name === rs);
    const others = existing.filter(([, o]) => o.metadata.ownerReferences?.[0]?.name !== rs);
    const images = [...(spec.template.spec.initContainers ?? []), ...spec.template.spec.containers].map((c) => c.image);
    const ready = !images.some((i) => this.opts.neverReady(i));
    const want = ready ? spec.replicas : Math.min(1, spec.replicas);
    // This template's ReplicaSet had its pods already (a rollback to the template that served, a re-apply).
    const unchanged = mine.length === want;
    for (const [p] of mine.slice(want)) this.api.drop(p);
    for (let i = mine.length; i < want; i++) {
      const name = `${rs}-${randomBytes(3).toString('hex').slice(0, 5)}`;
      this.api.put(`${pods}/${name}`, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name,
          labels: { ...spec.template.metadata.labels, 'pod-template-hash': hash },
          ownerReferences: [{ kind: 'ReplicaSet', name: rs }],
        },
        spec: spec.template.spec,
        status: podStatus(spec.template, ready),
      });
    }
    // Rolled out: the old ReplicaSets scale to zero. Stuck: they keep serving (maxUnavailable 0).
    if (ready) for (const [p] of others) this.api.drop(p);
    const generation = d.metadata.generation ?? 1;
    // A real controller may keep the Progressing condition when no replica count moves: a failed rollout's
    // ProgressDeadlineExceeded then stays on the Deployment after the old template is applied again.
    const kept = unchanged ? (d.status as { conditions?: unknown[] } | undefined)?.conditions : undefined;
    const status = ready
      ? {
          observedGeneration: generation,
          replicas: want,
          updatedReplicas: want,
          readyReplicas: want,
          availableReplicas: want,
          conditions: kept ?? [
            { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', lastUpdateTime: now() },
          ],
        }
      : {
          observedGeneration: generation,
          replicas: others.length + want,
          updatedReplicas: want,
          readyReplicas: others.length,
          availableReplicas: others.length,
          conditions: [
            {
              type: 'Progressing',
              status: 'False',
              reason: 'ProgressDeadlineExceeded',
              message: `ReplicaSet "${rs}" has timed out progressing.`,
              lastUpdateTime: now(),
            },
          ],
        };
    this.api.put(path, { ...d, status });
  }

  private runJobPod(pods: string, job: string, template: Template): void {
    const name = `${job}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const path = `${pods}/${name}`;
    const meta = { name, labels: template.metadata.labels, ownerReferences: [{ kind: 'Job', name: job }] };
    const main = template.spec.containers[0]!;
    this.api.put(path, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: meta,
      spec: template.spec,
      status: { ...podStatus(template, false), phase: 'Running' },
    });
    const command = main.command ?? [];
    const args = command[0] === 'sh' && command[1] === '-c' && command[3] === 'job' ? command.slice(4) : command;
    const done = runOnHost(args).then(({ exitCode, output }) => {
      this.logs.set(path, output);
      if (!this.api.objects.has(path)) return;
      const status = podStatus(template, false);
      status.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
      status.containerStatuses = status.containerStatuses.map((c) => ({
        ...c,
        ready: false,
        started: false,
        state: {
          terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: now(), finishedAt: now() },
        },
      }));
      this.api.put(path, { ...this.api.objects.get(path)!, status });
    });
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
  }
}

/** The status a kubelet writes for a pod whose containers all started; the mains ready or not. */
function podStatus(t: Template, ready: boolean) {
  const cond = (type: string, ok: boolean) => ({
    type,
    status: ok ? 'True' : 'False',
    ...(ok ? {} : { reason: 'ContainersNotReady' }),
  });
  const running = (c: Container, isReady: boolean) => ({
    name: c.name,
    image: c.image,
    ready: isReady,
    started: true,
    restartCount: 0,
    state: { running: { startedAt: now() } } as Record<string, unknown>,
  });
  return {
    phase: 'Running',
    conditions: [
      cond('PodReadyToStartContainers', true),
      cond('Initialized', true),
      cond('ContainersReady', ready),
      cond('Ready', ready),
    ],
    initContainerStatuses: (t.spec.initContainers ?? []).map((c) => running(c, true)),
    containerStatuses: t.spec.containers.map((c) => running(c, ready)),
  };
}

async function runOnHost(args: string[]): Promise<{ exitCode: number; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-kubelet-'));
  try {
    return await new Promise((resolve) => {
      execFile(
        args[0] ?? 'true',
        args.slice(1),
        { cwd: dir, timeout: 30_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
        (error, stdout, stderr) => {
          const code = error && typeof error.code === 'number' ? error.code : error ? 1 : 0;
          resolve({ exitCode: code, output: stdout + stderr });
        },
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
