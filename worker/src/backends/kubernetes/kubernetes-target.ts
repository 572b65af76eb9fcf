import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { CoreV1Api, Log, Watch, type KubeConfig } from '@kubernetes/client-node';
import {
  DomainError,
  ErrorCode,
  JOB_OUTPUT_LIMIT_BYTES,
  KubeLabels,
  Labels,
  labelSelectorFor,
  renderAppManifests,
  renderAppSecret,
  renderJobManifest,
  renderNetworkPolicies,
  selectorLabels,
  type AppManifest,
  type Deployment,
  type JobRunInput,
  type JobRunResult,
  type KubernetesSettings,
  type Log as PlatformLog,
  type LogSink,
  type Manifest,
  type PodView,
  type RolloutInput,
  type Target,
  type TlsMaterial,
  silentLog,
  tailBytes,
} from '@sidecar/core';
import { isNotFound, kubeError } from './kube-errors.js';
import { kindOps, ManagedKinds, type KindOps, type ManagedKind, type ObjectHead } from './kube-objects.js';
import { lastAppliedOf, withLastApplied } from './last-applied.js';
import { checkManifest } from '@sidecar/k8s-schema';
import { jobPodOutcome, podViewOf, type EventLike, type JobPodOutcome, type PodLike } from './pod-view.js';
import { rolloutState, type DeploymentLike } from './rollout-status.js';
import { watchUntil } from './watch-until.js';

export interface KubernetesTargetOptions {
  kubeConfig: KubeConfig;
  settings: KubernetesSettings;
  /** The server-side apply field manager: the platform's claim on the fields it sets. */
  fieldManager?: string;
  /** Client-side bound on one rollout, beyond the Deployment's own progress deadline (default: deadline + 60 s). */
  rolloutTimeoutMs?: number;
  /** How long a cancelled deploy waits for its rollback's rollout before it reports and returns (default 30 s; the cluster completes it). */
  cancelRollbackWaitMs?: number;
  /** Issues the `tls` sidecar's certificate for an app that brings none (the platform CA); the images are `settings.sidecarImages`. */
  issueTls?: (app: string) => Promise<TlsMaterial>;
  /** The worker's operational log (default: nowhere). */
  log?: PlatformLog;
}

export interface LogsInput {
  pod: string;
  container: string;
  follow?: boolean;
  tailLines?: number;
  signal?: AbortSignal;
}

export const DEFAULT_FIELD_MANAGER = 'sidecar-paas';
const JOB_OUTPUT_TAIL_LINES = 2000;

/**
 * The cluster Target: an app is a Deployment (core's pod template, native sidecars), a
 * Service, an Ingress and its Secret, server-side applied in the platform's namespace.
 * Rollouts are watched as `kubectl rollout status` decides; pods and events are read back
 * into the API's Pod shape. Only objects carrying this platform's labels are ever changed
 * or deleted: an existing object without them stops a deploy instead of being taken over.
 */
export class KubernetesTarget implements Target {
  private readonly settings: KubernetesSettings;
  private readonly ns: string;
  private readonly kinds: Record<ManagedKind, KindOps>;
  private readonly core: CoreV1Api;
  private readonly watch: Watch;
  private readonly log: Log;
  private readonly platformLog: PlatformLog;
  private readonly rolloutTimeoutMs: number;
  private readonly cancelRollbackWaitMs: number;
  private readonly issueTls: ((app: string) => Promise<TlsMaterial>) | undefined;
  /** Open waits (rollouts, jobs); close() aborts them. */
  private readonly open = new Set<AbortController>();
  private closing: Promise<void> | undefined;

  constructor(opts: KubernetesTargetOptions) {
    this.settings = opts.settings;
    this.ns = opts.settings.namespace;
    this.kinds = kindOps(opts.kubeConfig, this.ns, opts.fieldManager ?? DEFAULT_FIELD_MANAGER);
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.watch = new Watch(opts.kubeConfig);
    this.log = new Log(opts.kubeConfig);
    this.platformLog = opts.log ?? silentLog;
    this.rolloutTimeoutMs = opts.rolloutTimeoutMs ?? ((opts.settings.progressDeadlineSeconds ?? 600) + 60) * 1000;
    this.cancelRollbackWaitMs = opts.cancelRollbackWaitMs ?? 30_000;
    this.issueTls = opts.issueTls;
  }

  /** The objects an app runs as (secret values included: these go to the cluster), as applied: the Deployment carries its last-applied copy. */
  manifests(input: Pick<RolloutInput, 'app' | 'release'> & { tls?: TlsMaterial | undefined }): AppManifest[] {
    return renderAppManifests({
      app: input.app,
      release: input.release,
      settings: this.settings,
      secretValues: 'include',
      tls: input.tls,
    }).map(withLastApplied);
  }

  /** The `tls` sidecar's certificate: the app's own, else one issued now by the platform CA (as the Docker target does at every rollout). */
  private async tlsFor(app: RolloutInput['app']): Promise<TlsMaterial | undefined> {
    if (!app.sidecars.tls.enabled) return undefined;
    const { cert, key } = app.sidecars.tls;
    if (cert !== undefined && key !== undefined) return { cert, key };
    if (!this.issueTls)
      throw new DomainError(
        ErrorCode.invalidRequest,
        `${app.name} enables the tls sidecar, but this target issues no certificates`,
      );
    return this.issueTls(app.name);
  }

  /**
   * Applies the app's objects and watches the rollout. A rollout that fails (the Deployment's
   * ProgressDeadlineExceeded, or this target's own deadline) is rolled back: the Deployment as
   * applied before is applied again, so the cluster does not keep pointing at a template that
   * never became ready; then apply rejects with the reason, as the Docker target does.
   */
  async apply({ app, release, signal, log }: RolloutInput): Promise<void> {
    const manifests = this.manifests({ app, release, tls: await this.tlsFor(app) });
    for (const m of manifests) checkManifest(m);
    const deployment = manifests.find((m): m is Deployment => m.kind === 'Deployment')!;
    // The Deployment last (its Secrets, Service and Ingress before it): once it is applied, only the
    // rollout's wait is left, and every way that ends (failure, cancellation) goes through the rollback.
    for (const m of manifests.filter((m) => m !== deployment)) {
      signal.throwIfAborted();
      await this.applyObject(m);
      log(`applied ${m.kind.toLowerCase()}/${m.metadata.name} in namespace ${this.ns}`);
    }
    signal.throwIfAborted();
    const { applied, before } = await this.applyObject(deployment);
    try {
      log(`applied deployment/${deployment.metadata.name} in namespace ${this.ns}`);
      await this.waitForRollout({
        name: app.name,
        generation: applied.metadata?.generation ?? 0,
        signal,
        log,
        timeoutMs: this.rolloutTimeoutMs,
      });
    } catch (error) {
      const rollBack = (waitMs: number) =>
        this.rollBack({
          failed: deployment,
          applied,
          previous: lastAppliedOf(before),
          serving: app.currentRelease,
          log,
          waitMs,
        });
      // A cancelled deploy must not leave the cluster rolling on to a release the platform does not record (as on Docker, its new pods go).
      // The deploy shows `deploying` until this returns: the rollback's own rollout is awaited only briefly.
      if (signal.aborted)
        throw new DomainError(
          ErrorCode.cancelled,
          `rollout of v${release.version} cancelled; ${await rollBack(this.cancelRollbackWaitMs)}`,
          { cause: error },
        );
      // Anything else (watch failures, the worker shutting down) is retried: the retry applies the same release again.
      if (error instanceof DomainError && error.code !== ErrorCode.notReady) throw error;
      const reason = await this.unreadyReason(app.name, release.version).catch(() => '');
      const after = await rollBack(this.rolloutTimeoutMs);
      throw new DomainError(
        ErrorCode.notReady,
        `v${release.version} did not become ready: ${(error as Error).message}${reason ? `; ${reason}` : ''}; ${after}`,
        { cause: error },
      );
    }
    log(`deployment ${app.name}: v${release.version} rolled out`);
    // Secrets are named by their content: the ones this release does not use (an earlier release's values, a failed
    // release's, an app's last secret gone) are deleted only now. Until the rollout is done, pods of the previous
    // template, which refer to them, still run and may restart, and a rollback needs them.
    const secrets = new Set(manifests.filter((m) => m.kind === 'Secret').map((m) => m.metadata.name));
    await this.removeKind('Secret', app.name, (name) => !secrets.has(name));
  }

  /**
   * Re-applies the Deployment as it was before a failed rollout (server-side apply, same field
   * manager) and waits up to `waitMs` until that rollout is done: the pods of the failed template
   * go, the ones that served stay (maxUnavailable 0 kept them up throughout). A first deploy
   * (no release serves) has nothing to roll back to: its Deployment is deleted, so nothing the
   * platform does not record keeps running. Says what happened, for the error.
   */
  private async rollBack(opts: {
    failed: Deployment;
    applied: ObjectHead;
    previous: Deployment | undefined;
    serving: number | null;
    log: LogSink;
    waitMs: number;
  }): Promise<string> {
    const { failed, previous, log } = opts;
    const name = failed.metadata.name;
    if (opts.serving === null) return this.deleteFirstDeployment(name, opts.applied, log);
    // maxUnavailable 0: whatever the outcome here, the pods that served before are still up.
    const serving = `v${opts.serving} keeps serving`;
    if (!previous || JSON.stringify(previous.spec.template) === JSON.stringify(failed.spec.template)) {
      return `deployment ${name} has no earlier template to roll back to; ${serving}`;
    }
    const to = `v${previous.metadata.annotations?.[Labels.release] ?? '?'}`;
    log(`rollout failed: rolling deployment ${name} back to ${to}`);
    try {
      const applyingAt = Date.now();
      const { applied, before } = await this.applyObject(previous);
      // The failed rollout's ProgressDeadlineExceeded may stay on the Deployment after this apply (a controller keeps a
      // condition whose status and reason do not change): it says nothing about the rollback, the replica counts do.
      const stale = (before as DeploymentLike | undefined)?.status?.conditions?.find(
        (c) => c.type === 'Progressing',
      )?.lastUpdateTime;
      const staleDeadlineUpTo = Math.max(applyingAt, stale === undefined ? 0 : new Date(stale).getTime() || 0);
      await this.waitForRollout({
        name,
        generation: applied.metadata?.generation ?? 0,
        signal: new AbortController().signal,
        log,
        timeoutMs: opts.waitMs,
        staleDeadlineUpTo,
      });
    } catch (e) {
      if (e instanceof RolloutTimedOut && opts.waitMs < this.rolloutTimeoutMs) {
        return `deployment ${name} is rolling back to ${to} (not done within ${opts.waitMs} ms; the cluster completes it); ${serving}`;
      }
      return `rolling deployment ${name} back to ${to} failed (${(e as Error).message}); ${serving}`;
    }
    return `deployment ${name} rolled back to ${to}; ${serving}`;
  }

  /** A failed or cancelled first deploy: the Deployment just applied goes (exactly that object), its pods with it. */
  private async deleteFirstDeployment(name: string, applied: ObjectHead, log: LogSink): Promise<string> {
    log(`rollout failed: deleting deployment ${name} (a first deploy has nothing to roll back to)`);
    try {
      const uid = applied.metadata?.uid;
      if (uid) await this.kinds.Deployment.remove(name, uid);
      else await this.removeKind('Deployment', name, (n) => n === name);
    } catch (e) {
      if (!isNotFound(e))
        return `deleting deployment ${name} failed (${kubeError(e, `deleting deployment ${name}`).message}); no release serves`;
    }
    return `deployment ${name} deleted (a first deploy has nothing to roll back to); no release serves`;
  }

  async status(app: string): Promise<PodView[]> {
    try {
      const pods = await this.core.listNamespacedPod({
        namespace: this.ns,
        labelSelector: `${labelSelectorFor(this.settings, app)},${Labels.kind}!=job`,
      });
      if (pods.items.length === 0) return [];
      const events = await this.core.listNamespacedEvent({
        namespace: this.ns,
        fieldSelector: 'involvedObject.kind=Pod',
      });
      return pods.items
        .map((p) => podViewOf(p as PodLike, events.items as EventLike[]))
        .sort((a, b) => a.name.localeCompare(b.name));
    } catch (e) {
      throw kubeError(e, `reading the pods of ${app}`);
    }
  }

  /**
   * Deletes every object of the app that carries this platform's labels, and waits until its pods are
   * gone; its NetworkPolicy last, so a terminating pod is never unisolated. The namespace's default-deny
   * policy is the platform's, not the app's (no app label): it stays.
   */
  async remove(app: string): Promise<void> {
    for (const kind of ManagedKinds.filter((k) => k !== 'NetworkPolicy')) await this.removeKind(kind, app);
    await this.waitForPodsGone(app);
    await this.removeKind('NetworkPolicy', app);
  }

  async ping(): Promise<void> {
    try {
      // One pod read in our namespace: proves the API answers, our credentials work and the namespace exists.
      await this.core.listNamespacedPod({ namespace: this.ns, limit: 1, labelSelector: `${Labels.managed}=true` });
    } catch (e) {
      throw kubeError(e, `reaching namespace ${this.ns}`);
    }
  }

  async runJob(input: JobRunInput): Promise<JobRunResult> {
    const { app, release, jobId, signal } = input;
    const job = renderJobManifest({
      app,
      release,
      settings: this.settings,
      jobId,
      command: input.command,
      env: input.env,
    });
    // The job's pod is isolated by the app's policies and refers to the Secret of the app's current values
    // (content-named), which no rollout may have applied yet: all of them go first (the same objects a rollout applies).
    const secret = renderAppSecret({ app, settings: this.settings, secretValues: 'include' });
    const before = [...renderNetworkPolicies({ app, release, settings: this.settings }), ...(secret ? [secret] : [])];
    for (const m of [...before, job]) checkManifest(m);
    for (const m of before) await this.applyObject(m);
    await this.applyObject(job);
    const control = this.track(signal);
    let outcome: JobPodOutcome | undefined;
    let podName: string | undefined;
    try {
      let announced = false;
      const decide = (pod: PodLike) => {
        const o = jobPodOutcome(pod);
        if (o.started && !announced) {
          announced = true;
          input.onStarted?.();
        }
        if (o.finished) podName = pod.metadata?.name;
        return o.finished ? o : undefined;
      };
      outcome = await watchUntil<JobPodOutcome>({
        watch: this.watch,
        what: `job ${job.metadata.name}`,
        signal: control.signal,
        path: `/api/v1/namespaces/${this.ns}/pods`,
        query: { labelSelector: jobSelector(this.settings, app.name, jobId) },
        sync: async () => {
          const pods = await this.core
            .listNamespacedPod({ namespace: this.ns, labelSelector: jobSelector(this.settings, app.name, jobId) })
            .catch((e: unknown) => {
              throw kubeError(e, `reading the pod of job ${job.metadata.name}`);
            });
          const done = pods.items.map((p) => decide(p as PodLike)).find((o) => o !== undefined);
          return { resourceVersion: pods.metadata?.resourceVersion ?? '', result: done };
        },
        onEvent: (type, obj) => (type === 'ADDED' || type === 'MODIFIED' ? decide(obj as PodLike) : undefined),
      });
      const output =
        podName && outcome.started
          ? tailBytes(await this.readLogs(podName, 'runtime', JOB_OUTPUT_TAIL_LINES), JOB_OUTPUT_LIMIT_BYTES)
          : '';
      return { exitCode: outcome.exitCode, output, reason: outcome.reason };
    } catch (e) {
      if (signal.aborted) return { exitCode: null, output: '', reason: 'cancelled' };
      throw e;
    } finally {
      this.untrack(control);
      await this.removeKind('Job', app.name, (name) => name === job.metadata.name).catch((e: unknown) => {
        // The Job's TTL removes it later; the result stands.
        this.platformLog.warn({ job: job.metadata.name, err: e }, 'removing a finished job failed');
      });
    }
  }

  /** Streams one container's log into `out` (until it ends, or the signal aborts a follow). Only pods of this platform. */
  async logs(input: LogsInput, out: Writable): Promise<void> {
    let pod: ObjectHead;
    try {
      pod = await this.core.readNamespacedPod({ name: input.pod, namespace: this.ns });
    } catch (e) {
      if (isNotFound(e)) throw new DomainError(ErrorCode.podNotFound, `pod ${input.pod} not found`);
      throw kubeError(e, `reading pod ${input.pod}`);
    }
    if (!this.owns(pod)) throw new DomainError(ErrorCode.podNotFound, `pod ${input.pod} not found`);
    const controller = await this.log
      .log(this.ns, input.pod, input.container, out, {
        follow: input.follow ?? false,
        ...(input.tailLines !== undefined ? { tailLines: input.tailLines } : {}),
      })
      .catch((e: unknown) => {
        throw kubeError(e, `reading the log of ${input.pod}/${input.container}`);
      });
    const stop = () => controller.abort();
    input.signal?.addEventListener('abort', stop, { once: true });
    try {
      await finished(out).catch((e: unknown) => {
        if (!input.signal?.aborted) throw e;
      });
    } finally {
      input.signal?.removeEventListener('abort', stop);
    }
  }

  /** Aborts open watches (rollouts, jobs); objects on the cluster stay as they are. Safe twice. */
  close(): Promise<void> {
    this.closing ??= Promise.resolve().then(() => {
      for (const c of this.open)
        c.abort(new DomainError(ErrorCode.cancelled, 'the worker is shutting down', { retryable: true }));
    });
    return this.closing;
  }

  private owns(o: ObjectHead): boolean {
    const labels = o.metadata?.labels ?? {};
    return labels[Labels.managed] === 'true' && labels[KubeLabels.platform] === this.settings.platformId;
  }

  /** Server-side apply of one object, after making sure we would not take over someone else's; with the object as it was before. */
  private async applyObject(m: Manifest): Promise<{ applied: ObjectHead; before: ObjectHead | undefined }> {
    const ops = this.kinds[m.kind];
    const name = m.metadata.name;
    let before: ObjectHead | undefined;
    try {
      const existing = await ops.read(name);
      if (!this.owns(existing)) {
        throw new DomainError(
          ErrorCode.deployFailed,
          `${ops.resource} ${this.ns}/${name} exists but is not managed by this platform (no ${Labels.managed}=true, sidecar.paas/platform=${this.settings.platformId} labels); rename the app or remove that object`,
        );
      }
      before = existing;
    } catch (e) {
      if (!isNotFound(e)) throw kubeError(e, `reading ${ops.resource} ${name}`);
    }
    try {
      return { applied: await ops.apply(name, m), before };
    } catch (e) {
      throw kubeError(e, `applying ${ops.resource} ${name}`);
    }
  }

  /** Lists by the platform's label selector and deletes exactly what was listed; already gone is fine. */
  private async removeKind(
    kind: ManagedKind,
    app: string,
    which: (name: string) => boolean = () => true,
  ): Promise<void> {
    const ops = this.kinds[kind];
    let items: ObjectHead[];
    try {
      items = (await ops.list(labelSelectorFor(this.settings, app))).items;
    } catch (e) {
      throw kubeError(e, `listing ${ops.resource} of ${app}`);
    }
    for (const o of items) {
      const { name, uid } = o.metadata ?? {};
      if (!name || !uid || !this.owns(o) || !which(name)) continue;
      try {
        await ops.remove(name, uid);
      } catch (e) {
        if (!isNotFound(e)) throw kubeError(e, `deleting ${ops.resource} ${name}`);
      }
    }
  }

  private async waitForRollout(opts: {
    name: string;
    generation: number;
    signal: AbortSignal;
    log: (l: string) => void;
    timeoutMs: number;
    staleDeadlineUpTo?: number;
  }): Promise<void> {
    const control = this.track(opts.signal, opts.timeoutMs);
    let last = '';
    const decide = (d: DeploymentLike): true | undefined => {
      // An object older than the one we applied says nothing about our rollout.
      if ((d.metadata?.generation ?? 0) < opts.generation) return undefined;
      const s = rolloutState(
        d,
        opts.staleDeadlineUpTo === undefined ? {} : { staleDeadlineUpTo: opts.staleDeadlineUpTo },
      );
      if (s.message !== last) opts.log(`rollout: ${(last = s.message)}`);
      if (s.phase === 'failed') throw new DomainError(ErrorCode.notReady, s.message);
      return s.phase === 'done' ? true : undefined;
    };
    try {
      await watchUntil<true>({
        watch: this.watch,
        what: `deployment ${opts.name}`,
        signal: control.signal,
        path: `/apis/apps/v1/namespaces/${this.ns}/deployments`,
        query: { fieldSelector: `metadata.name=${opts.name}` },
        sync: async () => {
          const d = await this.kinds.Deployment.read(opts.name).catch((e: unknown) => {
            throw kubeError(e, `reading deployment ${opts.name}`);
          });
          return { resourceVersion: d.metadata?.resourceVersion ?? '', result: decide(d as DeploymentLike) };
        },
        onEvent: (type, obj) => {
          if (type === 'DELETED')
            throw new DomainError(ErrorCode.deployFailed, `deployment ${opts.name} was deleted during the rollout`);
          return type === 'ADDED' || type === 'MODIFIED' ? decide(obj as DeploymentLike) : undefined;
        },
      });
    } catch (e) {
      if (control.signal.aborted && !opts.signal.aborted) {
        // close(): the worker is shutting down (retryable), which is not this rollout's deadline.
        if (control.signal.reason instanceof DomainError) throw control.signal.reason;
        throw new RolloutTimedOut(`not rolled out within ${opts.timeoutMs} ms (last: ${last || 'no status'})`, {
          cause: e,
        });
      }
      throw e;
    } finally {
      this.untrack(control);
    }
  }

  private async waitForPodsGone(app: string): Promise<void> {
    const selector = labelSelectorFor(this.settings, app);
    const left = new Set<string>();
    const control = this.track(
      new AbortController().signal,
      ((this.settings.template?.terminationGracePeriodSeconds ?? 30) + 30) * 1000,
    );
    try {
      await watchUntil<true>({
        watch: this.watch,
        what: `the pods of ${app}`,
        signal: control.signal,
        path: `/api/v1/namespaces/${this.ns}/pods`,
        query: { labelSelector: selector },
        sync: async () => {
          const pods = await this.core.listNamespacedPod({ namespace: this.ns, labelSelector: selector });
          left.clear();
          for (const p of pods.items) if (p.metadata?.name) left.add(p.metadata.name);
          return { resourceVersion: pods.metadata?.resourceVersion ?? '', result: left.size === 0 ? true : undefined };
        },
        onEvent: (type, obj) => {
          const name = (obj as ObjectHead).metadata?.name;
          if (type === 'DELETED' && name) left.delete(name);
          return left.size === 0 ? true : undefined;
        },
      });
    } catch (e) {
      throw control.signal.aborted
        ? new DomainError(ErrorCode.deployFailed, `pods of ${app} still terminating: ${[...left].join(', ')}`, {
            retryable: true,
            cause: e,
          })
        : kubeError(e, `waiting for the pods of ${app} to go`);
    } finally {
      this.untrack(control);
    }
  }

  /** Why the release's pods are not ready: each unready container's state and its pod's last warning events. */
  private async unreadyReason(app: string, version: number): Promise<string> {
    const views = (await this.status(app)).filter((v) => v.release === version);
    return views
      .map((v) => {
        const problems = [...v.initContainerStatuses.filter((s) => s.sidecar), ...v.containerStatuses]
          .filter((s) => !s.ready)
          .map(
            (s) =>
              `${s.name} ${s.state.waiting ? `waiting (${s.state.waiting.reason})` : s.state.terminated ? `exited with code ${s.state.terminated.exitCode}` : s.started ? 'running, not ready' : 'running, not started'}${s.restartCount ? `; ${s.restartCount} restarts` : ''}`,
          );
        const lastProblem = [...v.events]
          .reverse()
          .find((e) => ['Unhealthy', 'BackOff', 'Failed', 'FailedScheduling'].includes(e.reason));
        return `pod ${v.name}: ${problems.join(', ') || 'not ready'}${lastProblem ? `; ${lastProblem.reason}: ${lastProblem.message}` : ''}`;
      })
      .join('\n');
  }

  private async readLogs(pod: string, container: string, tailLines: number): Promise<string> {
    try {
      return await this.core.readNamespacedPodLog({ name: pod, namespace: this.ns, container, tailLines });
    } catch (e) {
      throw kubeError(e, `reading the log of ${pod}/${container}`);
    }
  }

  /** A controller aborted with the caller's signal, after `timeoutMs`, or by close(). */
  private track(signal: AbortSignal, timeoutMs?: number): AbortController {
    const c = new AbortController();
    const onAbort = () => c.abort(signal.reason);
    if (signal.aborted) c.abort(signal.reason);
    else signal.addEventListener('abort', onAbort, { once: true });
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => c.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    c.signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      },
      { once: true },
    );
    this.open.add(c);
    return c;
  }

  private untrack(c: AbortController): void {
    this.open.delete(c);
    if (!c.signal.aborted) c.abort(); // releases its timer and listener
  }
}

/** The target's own bound on a rollout's wait passed (not the Deployment's progress deadline). */
class RolloutTimedOut extends DomainError {
  constructor(message: string, opts: { cause: unknown }) {
    super(ErrorCode.notReady, message, opts);
  }
}

const jobSelector = (settings: KubernetesSettings, app: string, jobId: string) =>
  Object.entries({ ...selectorLabels(settings, app), [Labels.deploy]: jobId })
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
