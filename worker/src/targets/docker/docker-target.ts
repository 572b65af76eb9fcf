import { randomInt } from 'node:crypto';
import {
  DomainError,
  ErrorCode,
  Labels,
  RUNTIME_PORT,
  isDomainError,
  JOB_OUTPUT_LIMIT_BYTES,
  podNameFor,
  renderJobPod,
  renderPod,
  validatePod,
  type JobRunInput,
  type JobRunResult,
  type LogSink,
  type Pod,
  type PodEvent,
  type PodView,
  type RolloutInput,
  type RouteTable,
  type Target,
  type TemplateSettings,
} from '@sidecar/core';
import type Docker from 'dockerode';
import { PLATFORM_LABEL } from './container-options.js';
import { PodRunner } from './pod-runner.js';
import { isNotFound } from './pod-sandbox.js';

export interface DockerTargetOptions {
  docker: Docker;
  routes: RouteTable;
  pauseImage: string;
  /** Crash-loop back-off multiplier (see PodRunnerOptions); 1 = the kubelet's. */
  backoffScale?: number;
  /** How long new pods get to become Ready before a rollout fails (default 60 s). */
  readyTimeoutMs?: number;
  settings?: TemplateSettings;
  /** Marks this platform's pods so that several platforms can share one engine; adopt() only takes its own. */
  platformId?: string;
}

/** New pods that never served traffic are removed with this grace, not the template's. */
const FAILED_ROLLOUT_GRACE_SECONDS = 2;
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'; // Kubernetes' generateName alphabet

const randomSuffix = () => Array.from({ length: 5 }, () => SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)]).join('');

/**
 * The single-host Target: runs an app's rendered pods with PodRunner and points the
 * router at the ready ones. Rollouts surge: new pods are Ready before routes move
 * and only then are the old pods deleted. Per-app state is in memory, rebuilt by adopt().
 * Rollouts of one app must not overlap (the deploy processor's app lock ensures it).
 */
export class DockerTarget implements Target {
  private readonly opts: DockerTargetOptions;
  private readonly apps = new Map<string, Map<string, PodRunner>>();
  /** Job pods run to completion beside the app's serving pods, never in its rotation. */
  private readonly jobs = new Set<PodRunner>();
  private closing: Promise<void> | undefined;

  constructor(opts: DockerTargetOptions) {
    this.opts = opts;
  }

  async apply({ app, release, signal, log }: RolloutInput): Promise<void> {
    const pods = this.podsOf(app.name);
    const old = [...pods.values()];
    // Deploy-log lines only while this rollout runs; the runners outlive it.
    const sink: { log: LogSink | undefined } = { log };
    const fresh: PodRunner[] = [];
    for (let i = 0; i < app.replicas; i++) {
      const pod = renderPod({ app, release, podName: podNameFor(app.name, release.version, randomSuffix()), ...(this.opts.settings ? { settings: this.opts.settings } : {}) });
      if (this.opts.platformId !== undefined) pod.metadata.labels = { ...pod.metadata.labels, [PLATFORM_LABEL]: this.opts.platformId };
      validatePod(pod);
      const runner = this.runner(pod, progress(pod.metadata.name ?? '', sink));
      fresh.push(runner);
      pods.set(runner.name, runner);
    }
    const readyTimeoutMs = this.opts.readyTimeoutMs ?? 60_000;
    try {
      signal.throwIfAborted();
      await Promise.all(fresh.map((r) => r.start()));
      await Promise.all(fresh.map((r) => r.waitFor((v) => v.ready, { timeoutMs: readyTimeoutMs, signal })));
    } catch (error) {
      sink.log = undefined;
      const reason = signal.aborted ? 'cancelled' : await notReadyReason(fresh, error, readyTimeoutMs);
      log(`rollout of v${release.version} failed: ${reason}; removing its new pods, v${app.currentRelease ?? '-'} keeps serving`);
      await this.deletePods(app.name, fresh, FAILED_ROLLOUT_GRACE_SECONDS);
      if (signal.aborted) throw new DomainError(ErrorCode.cancelled, `rollout of v${release.version} cancelled`, { cause: error });
      throw new DomainError(ErrorCode.notReady, `v${release.version} did not become ready: ${reason}`, { cause: error });
    }
    sink.log = undefined;
    await this.opts.routes.set(app.name, fresh.map((r) => ({ pod: r.name, address: r.address(RUNTIME_PORT) })));
    log(`routes: ${app.name} → ${fresh.map((r) => r.name).join(', ')}`);
    if (old.length > 0) {
      log(`stopping previous pods: ${old.map((r) => r.name).join(', ')}`);
      await this.deletePods(app.name, old);
    }
  }

  async status(app: string): Promise<PodView[]> {
    return [...(this.apps.get(app)?.values() ?? [])].map((r) => r.status());
  }

  async remove(app: string): Promise<void> {
    await this.opts.routes.remove(app);
    const known = this.podsOf(app);
    // Pods of the app this process does not supervise (never adopted) are removed too.
    const labelled = await this.opts.docker.listContainers({
      all: true,
      filters: {
        label: [
          `${Labels.managed}=true`, `${Labels.app}=${app}`, `${Labels.role}=pause`,
          // Another platform on the same engine may have an app of the same name: never touch it.
          ...(this.opts.platformId !== undefined ? [`${PLATFORM_LABEL}=${this.opts.platformId}`] : []),
        ],
      },
    });
    for (const c of labelled) {
      const name = c.Labels[Labels.pod];
      if (name && !known.has(name)) known.set(name, await PodRunner.adopt({ docker: this.opts.docker, podName: name, ...this.runnerExtras() }));
    }
    await this.deletePods(app, [...known.values()]);
    this.apps.delete(app);
  }

  async ping(): Promise<void> {
    await this.opts.docker.ping();
  }

  async runJob(input: JobRunInput): Promise<JobRunResult> {
    const { app, release, signal } = input;
    const pod = renderJobPod({
      app, release, podName: `${app.name}-job-${randomSuffix()}`, command: input.command, env: input.env,
      ...(this.opts.settings ? { settings: this.opts.settings } : {}),
    });
    pod.metadata.labels = { ...pod.metadata.labels, [Labels.deploy]: input.jobId };
    if (this.opts.platformId !== undefined) pod.metadata.labels = { ...pod.metadata.labels, [PLATFORM_LABEL]: this.opts.platformId };
    validatePod(pod);
    const runner = this.runner(pod, (e) => {
      if (e.container === 'runtime' && e.reason === 'Started') input.onStarted?.();
    });
    this.jobs.add(runner);
    try {
      await runner.start();
      // Rule 11: once the command exits, the runner stops the sidecars and decides the phase.
      const done = await runner
        .waitFor((v) => v.phase === 'Succeeded' || v.phase === 'Failed', { timeoutMs: 24 * 3600_000, signal })
        .catch((e: unknown) => {
          if (signal.aborted) return undefined;
          throw e;
        });
      const main = (done ?? runner.status()).containerStatuses[0];
      const exitCode = main?.state.terminated?.exitCode ?? null;
      const output = tailBytes(await runner.logs('runtime', 2000).catch(() => ''), JOB_OUTPUT_LIMIT_BYTES);
      const reason = done ? null : 'cancelled';
      return { exitCode, output, reason };
    } finally {
      this.jobs.delete(runner);
      await runner.delete({ gracePeriodSeconds: signal.aborted ? 2 : 30 });
    }
  }

  /** Re-adopts every managed pod of this platform (worker start), so restarts and status keep working. */
  async adopt(): Promise<{ adopted: string[]; failed: { pod: string; error: Error }[] }> {
    const adopted: string[] = [];
    const failed: { pod: string; error: Error }[] = [];
    const names = await PodRunner.list(this.opts.docker, this.opts.platformId !== undefined ? { platformId: this.opts.platformId } : {});
    for (const name of names) {
      if ([...this.apps.values()].some((m) => m.has(name))) continue;
      try {
        const runner = await PodRunner.adopt({ docker: this.opts.docker, podName: name, ...this.runnerExtras() });
        const labels = runner.pod.metadata.labels ?? {};
        const app = labels[Labels.app];
        if (labels[Labels.kind] === 'job') {
          // Its Job was owned by the worker that died; that Job is reported failed, the pod goes.
          await runner.delete({ gracePeriodSeconds: 2 });
          continue;
        }
        if (app === undefined) {
          await runner.close(); // not an app pod (e.g. `sidecar pod run`): not this target's to supervise
          continue;
        }
        this.podsOf(app).set(name, runner);
        adopted.push(name);
      } catch (e) {
        // Removed while we looked at it: nothing to adopt.
        if (isNotFound(e) || (isDomainError(e) && e.code === ErrorCode.podNotFound)) continue;
        failed.push({ pod: name, error: e instanceof Error ? e : new Error(String(e)) });
      }
    }
    return { adopted, failed };
  }

  /** Stops supervising every pod; pods keep running and are adopted by the next worker. Safe twice. */
  close(): Promise<void> {
    const runners = [...[...this.apps.values()].flatMap((m) => [...m.values()]), ...this.jobs];
    this.closing ??= Promise.all(runners.map((r) => r.close())).then(() => undefined);
    return this.closing;
  }

  private podsOf(app: string): Map<string, PodRunner> {
    let pods = this.apps.get(app);
    if (!pods) this.apps.set(app, (pods = new Map()));
    return pods;
  }

  private runnerExtras() {
    return this.opts.backoffScale !== undefined ? { backoffScale: this.opts.backoffScale } : {};
  }

  private runner(pod: Pod, onEvent: (e: PodEvent) => void): PodRunner {
    return new PodRunner({ docker: this.opts.docker, pod, pauseImage: this.opts.pauseImage, onEvent, ...this.runnerExtras() });
  }

  /** Deletes pods in parallel; every deletion runs to the end, then the first failure is thrown. */
  private async deletePods(app: string, runners: PodRunner[], gracePeriodSeconds?: number): Promise<void> {
    const results = await Promise.allSettled(runners.map((r) => r.delete(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds })));
    for (const r of runners) this.apps.get(app)?.delete(r.name);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  }
}

/** Deploy-log lines from pod events: "pod hello-v2-x7k2q: app started", "runtime ready". */
function progress(pod: string, sink: { log: LogSink | undefined }): (e: PodEvent) => void {
  const seen = new Set<string>();
  return (e) => {
    const log = sink.log;
    if (!log) return;
    const line = (() => {
      switch (e.reason) {
        case 'Started':
          return `${e.container} started`;
        case 'Ready':
          return `${e.container} ready`;
        case 'Unhealthy':
        case 'BackOff':
        case 'Exited':
        case 'Killing':
        case 'Failed':
        case 'FailedPostStartHook':
          return `${e.container}: ${e.message}`;
        default:
          return undefined;
      }
    })();
    // A probe failing every second would flood the log: each distinct line once.
    if (line === undefined || seen.has(line)) return;
    seen.add(line);
    log(`pod ${pod}: ${line}`);
  };
}

/** Why pods are not ready: the failing probe or state per unready container, plus the runtime's last log lines. */
async function notReadyReason(runners: PodRunner[], error: unknown, timeoutMs: number): Promise<string> {
  const parts: string[] = [];
  for (const r of runners) {
    const view = r.status();
    const problems = [...view.initContainerStatuses.filter((s) => s.sidecar), ...view.containerStatuses]
      .filter((s) => !s.ready)
      .map((s) => {
        const lastProbe = [...view.events].reverse().find((e) => e.container === s.name && e.reason === 'Unhealthy');
        const state = s.state.waiting
          ? `waiting (${s.state.waiting.reason})`
          : s.state.terminated
            ? `exited with code ${s.state.terminated.exitCode}`
            : s.started
              ? 'running, not ready'
              : 'running, not started';
        return `${s.name} ${state}${lastProbe ? `; ${lastProbe.message}` : ''}${s.restartCount ? `; ${s.restartCount} restarts` : ''}`;
      });
    // Best effort: the report is still useful without logs (e.g. the container was never created).
    const logs = (await r.logs('runtime', 10).catch((e: unknown) => `(logs unavailable: ${e instanceof Error ? e.message : String(e)})`)).trim();
    const started = view.events.length > 0;
    parts.push(
      `pod ${r.name}: ${started ? problems.join(', ') || `not ready within ${timeoutMs} ms` : error instanceof Error ? error.message : String(error)}` +
        (logs ? `; runtime logs:\n${logs}` : ''),
    );
  }
  return parts.join('\n') || (error instanceof Error ? error.message : String(error));
}

/** The last `limit` bytes of a text, cut at a line start where possible. */
function tailBytes(text: string, limit: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= limit) return text;
  const cut = buf.subarray(buf.length - limit).toString('utf8');
  const nl = cut.indexOf('\n');
  return nl >= 0 ? cut.slice(nl + 1) : cut;
}
