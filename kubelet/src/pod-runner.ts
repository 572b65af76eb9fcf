import { setTimeout as delay } from 'node:timers/promises';
import {
  DomainError,
  ErrorCode,
  Labels,
  validatePod,
  type Pod,
  type PodCondition,
  type PodEvent,
  type PodRestartPolicy,
  type PodSecrets,
  type PodView,
  silentLog,
  type Log,
  errorText,
} from '@sidecar/core';
import type Docker from 'dockerode';
import { CrashLoopBackoff } from './backoff.js';
import { isReady, isStarted, newRecord, observe, type ContainerRecord } from './container-record.js';
import {
  ContainerRole,
  PLATFORM_LABEL,
  POD_SPEC_LABEL,
  containerCreateOptions,
  isSidecar,
  podName,
} from './container-options.js';
import { containerLogText } from './docker-logs.js';
import { waitNotRunning } from './docker-wait.js';
import { startContainer } from './engine-connection.js';
import { waitForNoExec } from './exec-quiescence.js';
import { runAction, type ActionTarget } from './handlers.js';
import type { NetnsPool } from './netns-pool.js';
import {
  createPause,
  isConflict,
  isNotFound,
  isNotModified,
  listPodContainers,
  removeContainer,
  removePodObjects,
  resumeSandbox,
  startSandbox,
  statusOf,
  type Sandbox,
} from './pod-sandbox.js';
import { MIN_GRACE_MS, planPod, terminationMembers, type PodAction } from './pod-planner.js';
import { PodTermination } from './pod-termination.js';
import { podView, stampTransitions } from './pod-status.js';
import { runProbeLoop, type ProbeKind } from './probes.js';
import { writeSecretVolumes } from './secret-volumes.js';
import { declaredNanoCpus, PodCpuBoost, setNanoCpus, type StartupCpuBoost } from './startup-cpu-boost.js';

export interface PodRunnerOptions {
  docker: Docker;
  pod: Pod;
  /** The network-holder image (`ensurePlatformImages().pause`): waits forever, exits 0 on SIGTERM. */
  pauseImage: string;
  /**
   * Multiplies the crash-loop back-off (10 s doubling to 300 s, reset after 10 min).
   * 1 (default) is the kubelet's; tests use e.g. 0.05. Probe timings are never scaled.
   */
  backoffScale?: number;
  /** Called synchronously for every event; must not throw. */
  onEvent?: (e: PodEvent) => void;
  /** Per-container process limit (default DEFAULT_PIDS_LIMIT). */
  pidsLimit?: number;
  /** Warm network namespaces (netns-pool.ts): the pod's pause container joins one when it can. */
  netnsPool?: NetnsPool;
  /**
   * Interval of the uncounted early attempts of startup and readiness probes until their first success
   * (default 100 ms; see probes.ts); HTTP and TCP probes use at most NETWORK_PROBE_WARMUP_MS.
   */
  probeWarmupMs?: number;
  /** Where the pod's operational warnings go (default: nowhere). */
  log?: Log;
  /**
   * The data of the Secrets the pod's secret volumes refer to (what a kubelet reads from the API
   * server); written into the volumes before any container starts. Never stored in a label.
   */
  secrets?: PodSecrets;
  /** Called by delete() once the pod's containers have stopped, before they are removed; see DrainLogs. */
  drainLogs?: DrainLogs;
  /**
   * Containers (by name) whose image does not exist yet: its "pull" is under way elsewhere (the platform
   * builds a logic image while the pod starts). Such a container is created once its promise resolves;
   * the containers before it in the pod's order start meanwhile, as a kubelet starts them while a later
   * container's image is pulled. When the lifecycle reaches it, `Pulling` is reported, then `Pulled` once
   * the image exists; a rejection is a failed pull (`Failed`) and fails start(). stop(), delete() and
   * close() stop waiting for it.
   */
  pendingImages?: ReadonlyMap<string, Promise<void>>;
  /** More CPU for containers while the pod starts (startup-cpu-boost.ts); absent: none. */
  startupCpuBoost?: StartupCpuBoost;
}

/**
 * Reads what the pod's containers wrote to the end (e.g. a log collector storing it) before the
 * containers, and with them their output, are removed. It must end within its own bound; if it
 * fails, the pod is removed anyway and a `FailedDrainLogs` event says why.
 */
export type DrainLogs = (pod: string) => Promise<void>;

/** See ProbeLoopOptions.warmupMs. */
export const DEFAULT_PROBE_WARMUP_MS = 100;
/**
 * An HTTP or TCP attempt is one connection from this process to the pod (a refused connect while the app
 * boots costs microseconds); an exec attempt is a process started in the container by the engine, tens of
 * milliseconds of its CPU on the cores the pod is starting on. So network probes look for their first
 * success five times as often: a new pod takes traffic ~10 ms after it can on average instead of ~50.
 */
export const NETWORK_PROBE_WARMUP_MS = 20;

export interface AdoptOptions extends Omit<PodRunnerOptions, 'pod' | 'pauseImage'> {
  podName: string;
  /**
   * false: rebuild the view only. Nothing is started, restarted or probed; `status()`, `stop()` and
   * `delete()` work. For a process that inspects or deletes a pod another process may have supervised
   * (`sidecar pod get|delete`): a supervising adopter would restart exited containers first. Default true.
   */
  supervise?: boolean;
}

/** A container's image being made elsewhere (PodRunnerOptions.pendingImages): `done` resolves true once it exists. */
interface PendingPull {
  done: Promise<boolean>;
  settled: boolean;
  /** Why it failed (the `Failed` event's message). */
  error: string;
}

const MAX_EVENTS = 1000;
const DEFAULT_GRACE_SECONDS = 30;
/** How long a freeze waits for execs in a container to end (waitForNoExec) before it gives up. */
const EXEC_QUIESCENCE_TIMEOUT_MS = 10_000;
/** postStart hooks have no timeout in the kubelet; a timer needs some bound. */
const HOOK_TIMEOUT_MS = 2 ** 31 - 1;

/** Promise.all that waits for every promise to settle before rejecting with the first failure. */
async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

const errorMessage = (e: unknown) => errorText(e);

/**
 * Runs one Pod on Docker the way a Kubernetes 1.33 kubelet does (docs NATIVE-SIDECARS.md).
 * The rules are pure functions in pod-planner.ts; this class is their executor: after every
 * change (coalesced per event-loop turn) it hands the planner a snapshot of its records and
 * carries out the actions on Docker, watches exits, and runs probes and hooks.
 */
export class PodRunner {
  readonly name: string;
  readonly pod: Pod;
  private readonly docker: Docker;
  private readonly pauseImage: string;
  private readonly pidsLimit: number | undefined;
  private readonly netnsPool: NetnsPool | undefined;
  private readonly backoff: CrashLoopBackoff;
  private readonly onEvent: ((e: PodEvent) => void) | undefined;
  private readonly inits: ContainerRecord[];
  private readonly mains: ContainerRecord[];
  private readonly all: ContainerRecord[];
  private readonly events: PodEvent[] = [];
  private readonly listeners = new Set<() => void>();
  /** Aborted by close()/delete(): exit watchers, probes, timers. */
  private readonly lifetime = new AbortController();
  private readonly reportedReady = new Set<ContainerRecord>();
  /** The run (generation) whose readiness/liveness probes were started, per container. */
  private readonly runtimeProbesOf = new WeakMap<ContainerRecord, number>();
  /** Where the pod's containers run (its pause container's id is pauseRecord's). */
  private sandbox: Omit<Sandbox, 'pauseId'> | undefined;
  /** The pod's pause container (its record, with the stored spec): in flight while a holder's pod starts. */
  private pauseRecord: Promise<string> = new Promise(() => undefined);
  /** The warm network holder the pod took, if any: removed with the pod even if its record was never made. */
  private holderId: string | undefined;
  private sandboxReady = false;
  /** The conditions as last stamped with their transition times (stampTransitions). */
  private stampedConditions: PodCondition[] = [];
  /** Ends this pod's start as the netns pool counts it (NetnsPool.podStarting): once Ready, terminal or stopped. */
  private endStart: (() => void) | undefined;
  /** The sandbox died and is being re-created (recreateSandbox). */
  private sandboxRecovery: Promise<void> | undefined;
  /** The sandbox was re-created: the init entries run again from the first, and the mains wait for them. */
  private sandboxRecreated = false;
  /** Index of the next init entry to complete (rule 1). */
  private cursor = 0;
  private outcome: 'Succeeded' | 'Failed' | null = null;
  private terminating = false;
  private starting: Promise<void> | undefined;
  private termination: Promise<void> | undefined;
  /** The termination being executed (rules 12–18), stepped on every change. */
  private ending: PodTermination | undefined;
  private deletion: Promise<void> | undefined;
  private closed = false;
  private notifyQueued = false;
  /** Adopted with `supervise: false`: sync() never starts or restarts anything, no probes run. */
  private passive = false;
  /**
   * Set while the pod's containers are frozen (cgroup freezer, `docker pause`): no probe runs and
   * nothing is started or restarted (an exit is still recorded). Probes run under `probesOn`, which
   * a freeze aborts and a thaw renews.
   */
  private frozenAtMs: number | null = null;
  private probesOn = new AbortController();
  /** Probe loops running now: a freeze waits for them to end (see ProbeLoopOptions.holdSignal). */
  private readonly probeLoops = new Set<Promise<void>>();
  /** Freezes and thaws run one after the other, in call order. */
  private freezer: Promise<void> = Promise.resolve();

  private readonly probeWarmupMs: number;
  private readonly log: Log;
  private readonly secrets: PodSecrets;
  private readonly drainLogs: DrainLogs | undefined;
  /** Per container waiting for its image (PodRunnerOptions.pendingImages): resolves true once it exists. */
  private readonly pulls = new Map<ContainerRecord, PendingPull>();
  /** Aborted by stop()/close(): a creation still waiting for its image gives up. */
  private readonly imageWait = new AbortController();
  private readonly pendingImages: ReadonlyMap<string, Promise<void>>;
  /** Which containers still have the startup CPU boost, and when each loses it (startup-cpu-boost.ts). */
  private readonly cpuBoost: PodCpuBoost;

  constructor(opts: PodRunnerOptions) {
    this.pod = opts.pod;
    this.name = podName(opts.pod);
    this.docker = opts.docker;
    this.pauseImage = opts.pauseImage;
    this.pidsLimit = opts.pidsLimit;
    this.netnsPool = opts.netnsPool;
    this.log = opts.log ?? silentLog;
    this.cpuBoost = new PodCpuBoost(opts.docker, opts.startupCpuBoost, this.log, this.lifetime.signal);
    this.probeWarmupMs = opts.probeWarmupMs ?? DEFAULT_PROBE_WARMUP_MS;
    this.secrets = opts.secrets ?? {};
    this.drainLogs = opts.drainLogs;
    this.pendingImages = opts.pendingImages ?? new Map();
    this.backoff = new CrashLoopBackoff(opts.backoffScale ?? 1);
    this.onEvent = opts.onEvent;
    this.inits = (opts.pod.spec.initContainers ?? []).map((c, i) => newRecord(c, isSidecar(c) ? 'sidecar' : 'init', i));
    this.mains = opts.pod.spec.containers.map((c, i) => newRecord(c, 'main', i));
    this.all = [...this.inits, ...this.mains];
  }

  private get restartPolicy(): PodRestartPolicy {
    return this.pod.spec.restartPolicy ?? 'Always';
  }

  // ---- public API -------------------------------------------------------------------------------

  /** Creates the sandbox (pause container, volumes) and every container, then begins the lifecycle. */
  start(): Promise<void> {
    if (!this.starting) {
      // Until it is Ready (or ends), the netns pool holds back refills that would compete with this start.
      this.endStart = this.netnsPool?.podStarting();
      this.starting = this.createAll();
      this.starting.catch(() => this.endStart?.());
    }
    return this.starting;
  }

  status(): PodView {
    const release = this.pod.metadata.labels?.[Labels.release];
    const view = podView({
      name: this.name,
      release: release === undefined ? null : Number(release),
      restartPolicy: this.restartPolicy,
      inits: this.inits,
      mains: this.mains,
      sandboxReady: this.sandboxReady,
      initDone: this.cursor >= this.inits.length,
      outcome: this.outcome,
      events: this.events,
    });
    // A read between a change and its changed() turn stamps that change with its own time; the turn, a
    // moment later, keeps the stamp of its own read (well under a millisecond apart).
    return { ...view, conditions: stampTransitions(this.stampedConditions, view.conditions, new Date().toISOString()) };
  }

  /** Resolves with the first view matching `predicate`; re-checked on every change, no polling. */
  /** Calls `listener` after every change of the pod's state (coalesced per event-loop turn); returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  waitFor(predicate: (v: PodView) => boolean, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<PodView> {
    return new Promise((resolve, reject) => {
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        opts.signal?.removeEventListener('abort', onAbort);
        settle();
      };
      const check = () => {
        const view = this.status();
        if (predicate(view)) finish(() => resolve(view));
      };
      const onAbort = () =>
        finish(() => reject(opts.signal?.reason instanceof Error ? opts.signal.reason : new Error('aborted')));
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(new Error(`pod ${this.name}: condition not met within ${opts.timeoutMs} ms (${this.summary()})`)),
          ),
        opts.timeoutMs,
      );
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.listeners.add(check);
      check();
    });
  }

  /** The view in one line, plus what only the runner knows: starts in flight (a slow engine shows here). */
  private summary(): string {
    const starting = this.all
      .filter((c) => c.starting)
      .map((c) => `${c.spec.name}${c.startInFlight ? ' (docker start)' : ''}`);
    return `${summary(this.status())}${starting.length > 0 ? `; starting: ${starting.join(', ')}` : ''}`;
  }

  /**
   * `<pod IP>:<port>` for a declared container port: where host processes (the router) reach it.
   * Nothing is published on the host (container-options.ts `exposing`).
   */
  address(port: number): string {
    if (!this.sandbox?.ports.has(port)) throw new Error(`pod ${this.name} does not declare port ${port}`);
    return `${this.sandbox.ip}:${port}`;
  }

  /** The pod's IP on the pod network. */
  ip(): string {
    if (!this.sandbox) throw new Error(`pod ${this.name} has no sandbox`);
    return this.sandbox.ip;
  }

  /** The last lines a container wrote (stdout and stderr), for error reports. */
  async logs(container: string, tail = 20): Promise<string> {
    const c = this.all.find((r) => r.spec.name === container);
    if (!c?.id) return '';
    return containerLogText(this.docker.getContainer(c.id), { tail });
  }

  /** Terminates the pod (rules 12–18), then removes its containers, pause container and volumes. */
  delete(opts: { gracePeriodSeconds?: number } = {}): Promise<void> {
    this.deletion ??= this.deleteAll(opts.gracePeriodSeconds);
    return this.deletion;
  }

  /**
   * Terminates the pod (rules 12–18) without removing anything: the exited containers stay
   * for inspection (logs). The phase becomes terminal, from the mains' exit codes.
   */
  async stop(opts: { gracePeriodSeconds?: number } = {}): Promise<void> {
    // Rule 12 from the request on: a pod deleted while its containers are being created starts none of them.
    if (!this.closed) this.terminating = true;
    this.endStart?.();
    // A stopping pod (its grace period can be long) does not keep a boost.
    void this.cpuBoost.end();
    this.imageWait.abort(new Error(`pod ${this.name} is being stopped`));
    // A failed start was reported to start()'s caller; stopping still handles whatever it created.
    if (this.starting) await this.starting.catch(() => undefined);
    // A frozen process cannot run its signal handler: the pod is thawed, then terminated as usual.
    if (!this.closed) await this.thaw();
    const grace = opts.gracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
    try {
      if (!this.closed) await this.terminate(grace);
    } finally {
      this.outcome ??= this.mains.every((m) => m.everRan && m.exitCode === 0) ? 'Succeeded' : 'Failed';
      this.changed();
    }
  }

  /** When the pod was frozen (ms since the epoch), or null while it runs. */
  get frozenSince(): number | null {
    return this.frozenAtMs;
  }

  /**
   * Freezes every running container of the pod with the cgroup freezer (`docker pause`): its processes
   * get no CPU and keep their memory; connections to its ports still complete in the kernel and wait
   * in the listen queue until the thaw. Probes stop (a frozen process would fail them) and the
   * readiness each container had is kept; nothing is restarted while frozen. Not a kubelet state:
   * the Docker target uses it for warm pods and idle apps. No effect on a pod that is frozen already,
   * terminating or no longer supervised.
   */
  freeze(): Promise<void> {
    return this.serializeFreezer(async () => {
      if (this.frozenAtMs !== null || this.terminating || this.closed) return;
      if (this.starting) await this.starting;
      this.frozenAtMs = Date.now();
      // Probes stop, and an attempt under way ends first (an exec is never caught half-started).
      this.probesOn.abort();
      await Promise.allSettled([...this.probeLoops]);
      const paused: ContainerRecord[] = [];
      try {
        await settleAll(
          this.all
            .filter((c) => c.id && c.phase === 'running')
            .map(async (c) => {
              if (await this.setPaused(c, true)) paused.push(c);
            }),
        );
      } catch (e) {
        // Half frozen helps nobody: what was paused runs again, and the pod stays as it was.
        await Promise.allSettled(paused.map((c) => this.setPaused(c, false)));
        this.unfrozen();
        throw e;
      }
      this.emit('', 'Frozen', `Pod frozen (${paused.length} container(s) paused)`);
    });
  }

  /** Thaws a frozen pod (`docker unpause`), then resumes its probes; no effect on a running pod. */
  thaw(): Promise<void> {
    return this.serializeFreezer(async () => {
      if (this.frozenAtMs === null) return;
      // Containers that exited while frozen (the engine restarted) are not paused: nothing to do for them.
      await settleAll(this.all.filter((c) => c.id).map((c) => this.setPaused(c, false)));
      this.unfrozen();
      this.emit('', 'Thawed', 'Pod thawed');
    });
  }

  /**
   * Resident memory of the pod's containers, in bytes (the engine's figure, as `docker stats` shows it:
   * usage less inactive page cache); containers that do not run count 0.
   */
  async memoryBytes(): Promise<number> {
    const each = await Promise.all(
      this.all
        .filter((c) => c.id && c.phase === 'running')
        .map(async (c) =>
          residentBytes(await this.docker.getContainer(c.id).stats({ stream: false, 'one-shot': true })),
        ),
    );
    return each.reduce((a, b) => a + b, 0);
  }

  /**
   * Stops supervising (watchers, probes, timers) without touching any container, but for setting one
   * still under a startup CPU boost back to its own limit. Safe twice.
   */
  close(): Promise<void> {
    this.endStart?.();
    // Its containers go on running unsupervised: each still boosted is asked once (no retries once closed)
    // for its own limit, waited for up to 2 s (the worker exits after close; an engine that hangs must not hold it).
    const boostEnded = Promise.race([this.cpuBoost.end(), new Promise((r) => setTimeout(r, 2000).unref())]);
    this.imageWait.abort(new Error(`pod ${this.name} is no longer supervised`));
    if (this.closed) return boostEnded.then(() => undefined);
    this.closed = true;
    this.lifetime.abort();
    for (const c of this.all) this.clearBackoff(c);
    // A termination in progress ends here: nothing more is signalled (delete() removes by force next).
    this.ending?.end();
    for (const l of [...this.listeners]) l();
    return boostEnded.then(() => undefined);
  }

  /** Names of the pods managed on this Docker engine (one pause container each). */
  static async list(docker: Docker, opts: { platformId?: string } = {}): Promise<string[]> {
    const label = [`${Labels.managed}=true`, `${Labels.role}=${ContainerRole.pause}`];
    if (opts.platformId !== undefined) label.push(`${PLATFORM_LABEL}=${opts.platformId}`);
    const pauses = await docker.listContainers({ all: true, filters: { label } });
    return pauses
      .map((p) => p.Labels[Labels.pod])
      .filter((n): n is string => n !== undefined)
      .sort();
  }

  /**
   * Removes the containers of this platform's pods that have no pause container, and returns those pods'
   * names. A pod is found (list(), adoption) by its pause container, which is created while its other
   * containers are (createPause): a worker that died in between left containers nothing else would find.
   * Run before this platform creates pods (the worker's start); never without a platform id, when a pod
   * another process is creating right now could look the same. Creations a dead worker sent that the
   * engine completes after this looked are found at the next start.
   */
  static async removeIncomplete(
    docker: Docker,
    opts: { platformId: string },
  ): Promise<{ removed: string[]; failed: { pod: string; error: Error }[] }> {
    const containers = await docker.listContainers({
      all: true,
      filters: { label: [`${Labels.managed}=true`, `${PLATFORM_LABEL}=${opts.platformId}`, Labels.pod] },
    });
    const pods = new Map<string, boolean>(); // pod → has a pause container
    for (const c of containers) {
      const pod = c.Labels[Labels.pod];
      if (pod === undefined) continue;
      pods.set(pod, (pods.get(pod) ?? false) || c.Labels[Labels.role] === ContainerRole.pause);
    }
    const incomplete = [...pods].filter(([, hasPause]) => !hasPause).map(([pod]) => pod);
    // One pod the engine will not remove now must not keep the worker from adopting the others.
    const results = await Promise.allSettled(incomplete.map((pod) => removePodObjects(docker, pod)));
    const removed: string[] = [];
    const failed: { pod: string; error: Error }[] = [];
    results.forEach((r, i) => {
      const pod = incomplete[i]!;
      if (r.status === 'fulfilled') removed.push(pod);
      else failed.push({ pod, error: r.reason instanceof Error ? r.reason : new Error(String(r.reason)) });
    });
    return { removed: removed.sort(), failed };
  }

  /**
   * Rebuilds a runner for a pod that already exists (after a worker restart) and resumes
   * supervision. Nothing that runs is started again; exited containers are restarted with
   * `docker start`, which keeps their env (the stored spec has env values redacted).
   */
  static async adopt(opts: AdoptOptions): Promise<PodRunner> {
    const containers = await listPodContainers(opts.docker, opts.podName);
    const pause = containers.find((c) => c.Labels[Labels.role] === ContainerRole.pause);
    const specLabel = pause?.Labels[POD_SPEC_LABEL];
    if (!pause || !specLabel) throw new DomainError(ErrorCode.podNotFound, `no managed pod ${opts.podName}`);
    const pod = validatePod(JSON.parse(specLabel));
    const { supervise, ...runnerOpts } = opts;
    const runner = new PodRunner({ ...runnerOpts, pod, pauseImage: pause.Image });
    runner.passive = supervise === false;
    await runner.resume(containers, pause.Id);
    return runner;
  }

  // ---- sandbox ----------------------------------------------------------------------------------

  private async createAll(): Promise<void> {
    // Kubernetes' scheduler records this when it binds the pod to a node; here the node is this engine
    // and the pod is bound when its runner starts. It marks where the control plane hands over to the sandbox.
    this.emit('', 'Scheduled', `Successfully assigned ${this.name} to this Docker engine`);
    const pause = await createPause(this.docker, this.pod, {
      pauseImage: this.pauseImage,
      pool: this.netnsPool,
      log: this.log,
    });
    // The kubelet's order: the sandbox exists before any container is created. With a warm holder the sandbox
    // runs already (the volumes exist too), and the pause container is only the pod's record (never started),
    // made beside the pod's containers: the sandbox is ready (PodReadyToStartContainers) without waiting for it.
    // The container whose namespaces the others join: the holder, or the pause container (created by now).
    this.pauseRecord = pause.pauseId;
    this.holderId = pause.holder?.id;
    const sandboxId = pause.holder?.id ?? (await pause.pauseId);
    // Every container is created now, not lazily as the kubelet does, so that a restarted
    // worker can adopt the pod with `docker start` and never needs env values (secrets),
    // which must not be stored in labels. All at once, and the lifecycle does not wait for all of them:
    // each start waits for its own container (dockerStart), so the first one starts as soon as it
    // exists. `Created` events still follow the kubelet's order.
    for (const c of this.all) {
      const image = this.imageOf(c);
      c.created = image
        .then(() => {
          const startupNanoCpus = this.cpuBoost.nanoCpusFor(c.spec);
          const creating = this.docker.createContainer(
            containerCreateOptions({
              pod: this.pod,
              container: c.spec,
              role: c.kind,
              sandboxId,
              ...(pause.holder ? { holderId: pause.holder.id } : {}),
              ...(this.pidsLimit ? { pidsLimit: this.pidsLimit } : {}),
              ...(startupNanoCpus !== undefined ? { startupNanoCpus } : {}),
            }),
          );
          if (startupNanoCpus !== undefined)
            this.cpuBoost.created(
              c.spec,
              creating.then((x) => x.id),
            );
          return creating;
        })
        .then(async (created) => {
          c.id = created.id;
          c.stopSignal = stopSignalOf(await created.inspect());
        });
    }
    // Settled, not raced: a failure elsewhere must not leave a creation in flight that cleanup (which
    // lists the pod's containers) could miss. `start()` settles once every container exists.
    // A creation that fails before the sandbox is ready keeps the lifecycle from beginning (and must not
    // reject unobserved meanwhile); one that fails later fails start() all the same, and the pod is deleted.
    // The pause record is one of them: a pod without it could be neither listed nor adopted.
    let creationFailed = false;
    const creations = [pause.pauseId, ...this.all.map((c) => c.created)];
    for (const created of creations)
      created.catch(() => {
        creationFailed = true;
      });
    const creating = settleAll(creations);
    creating.catch(() => undefined);
    const { holder } = pause;
    // A warm holder runs already and is the pod's sandbox (its pause process holds the namespaces and
    // is PID 1 of a shared PID namespace): the lifecycle begins once the secrets are written, and the pause
    // container stays the pod's record (labels, stored spec), never started: starting it would only compete
    // with the first container's start (measured: ~150 ms on every pod). Without a holder the pause container
    // is the sandbox; joining its namespaces is checked at start, so creation overlaps it.
    const sandbox = holder
      ? Promise.resolve({ sandboxId: holder.id, ...holder.network })
      : startSandbox(this.docker, sandboxId);
    // The secret volumes' files are in place before any container can start (the sandbox is ready).
    const secrets = writeSecretVolumes({
      docker: this.docker,
      pod: this.pod,
      secrets: this.secrets,
      image: this.pauseImage,
    });
    try {
      [this.sandbox] = await settleAll([sandbox, secrets] as const);
    } catch (e) {
      await creating.catch(() => undefined);
      throw e;
    }
    if (creationFailed) await creating;
    this.sandboxReady = true;
    this.watchSandbox();
    this.changed();
    await creating;
  }

  /**
   * Resolves once the container's image exists: at once, or for a pending image (PodRunnerOptions.pendingImages)
   * when its promise does; rejects when that pull fails or the pod is stopped or closed meanwhile.
   */
  private imageOf(c: ContainerRecord): Promise<void> {
    const pending = this.pendingImages.get(c.spec.name);
    if (!pending) return Promise.resolve();
    const signal = this.imageWait.signal;
    const stopped = new Promise<never>((_, reject) => {
      const fail = () => reject(signal.reason instanceof Error ? signal.reason : new Error('stopped'));
      if (signal.aborted) fail();
      else signal.addEventListener('abort', fail, { once: true });
    });
    const image = Promise.race([pending, stopped]);
    const pull: PendingPull = {
      settled: false,
      error: '',
      done: image.then(
        (): boolean => (pull.settled = true),
        (e: unknown) => {
          pull.error = errorMessage(e);
          pull.settled = true;
          return false;
        },
      ),
    };
    this.pulls.set(c, pull);
    return image;
  }

  private async resume(containers: Docker.ContainerInfo[], pauseId: string): Promise<void> {
    this.starting = Promise.resolve();
    // After a host reboot or an engine restart the sandbox is down: it is brought back so the others can join it.
    const { restarted, ...sandbox } = await resumeSandbox(this.docker, pauseId);
    this.pauseRecord = Promise.resolve(pauseId);
    this.sandbox = sandbox;
    this.sandboxReady = true;
    for (const c of this.all) {
      const info = containers.find(
        (x) => x.Labels[Labels.container] === c.spec.name && x.Labels[Labels.role] !== ContainerRole.pause,
      );
      if (!info) throw new Error(`pod ${this.name}: container ${c.spec.name} is missing`);
      const inspected = await this.docker.getContainer(info.Id).inspect();
      const state = inspected.State;
      c.id = info.Id;
      c.stopSignal = stopSignalOf(inspected);
      // Its start was boosted by a process that died before the boost's end: its own limit now.
      const declared = declaredNanoCpus(c.spec);
      if (!this.passive && declared !== undefined && inspected.HostConfig.NanoCpus !== declared)
        this.background(setNanoCpus(this.docker, info.Id, declared, this.log, this.lifetime.signal), c.spec.name);
      const ran = !state.StartedAt.startsWith('0001-');
      if (!ran) continue;
      // Frozen by the process that ran the pod before (a warm or idle pod): it stays frozen.
      if (state.Paused) this.frozenAtMs ??= Date.now();
      c.everRan = true;
      c.startedAt = state.StartedAt;
      if (state.Running) {
        c.phase = 'running';
        c.generation = 1;
        c.postStartDone = true; // hooks ran when it started; never re-run them
        // Whether its startup probe passed was not stored: probe again (see README), except below.
        c.startupPassed = !c.spec.startupProbe;
      } else this.markExited(c, state);
    }
    // A sandbox that was down is a new one (new namespaces): everything starts again in the pod's order.
    if (restarted) this.purgeInits();
    else this.rebuildInitCursor();
    // A frozen pod's containers passed their probes before the freeze; readiness is taken as it was
    // (the probes resume at the thaw and report any change).
    if (this.frozenAtMs !== null) {
      this.probesOn.abort();
      for (const c of this.all) if (c.phase === 'running') c.readinessPassed = true;
    }
    // Passive and nothing runs: nothing will ever run again, so the phase is terminal, from the mains (as after a deletion).
    if (this.passive && this.all.every((c) => c.phase !== 'running')) {
      this.outcome = this.mains.every((m) => m.everRan && m.exitCode === 0) ? 'Succeeded' : 'Failed';
    }
    for (const c of this.all) {
      if (c.phase !== 'running') continue;
      c.run = new AbortController();
      this.background(this.watchExit(c, c.generation), c.spec.name);
      if (!this.passive && this.frozenAtMs === null)
        this.beginProbes(c, c.generation, Date.parse(c.startedAt ?? '') || Date.now());
    }
    this.watchSandbox();
    this.changed();
  }

  /** Rebuilds the init cursor: an entry is done if it exited 0 (init) or if anything after it ran (sidecar started). */
  private rebuildInitCursor(): void {
    const ranAfter = (i: number) => [...this.inits.slice(i + 1), ...this.mains].some((r) => r.everRan);
    for (const c of this.inits) {
      if (c.kind === 'sidecar' && c.phase === 'running' && (ranAfter(c.index) || !c.spec.startupProbe))
        c.startupPassed = true;
    }
    while (this.cursor < this.inits.length) {
      const c = this.inits[this.cursor]!;
      if (c.kind === 'init' ? c.succeeded : isStarted(c) || ranAfter(c.index)) this.cursor++;
      else break;
    }
  }

  // ---- the sandbox dies: re-created, as the kubelet does ------------------------------------------

  /** Follows the sandbox's container: if it stops while the pod is supervised, the sandbox is re-created. */
  private watchSandbox(): void {
    const sandbox = this.sandbox;
    if (!sandbox || this.passive) return;
    this.background(
      this.untilNotRunning(sandbox.sandboxId, '').then(async (ended) => {
        if (ended && this.sandbox === sandbox && (await this.sandboxDown())) this.sandboxLost();
      }),
      '',
    );
  }

  /** Whether the current sandbox's container has stopped (asked until the engine answers; false on close). */
  private async sandboxDown(): Promise<boolean> {
    const sandbox = this.sandbox;
    if (!sandbox || !this.sandboxReady) return false;
    const state = await this.stateOf(sandbox.sandboxId);
    return state !== null && state?.Running !== true && this.sandbox === sandbox;
  }

  /**
   * The kubelet's answer to a sandbox that died (`SandboxChanged`; here: an engine restart without
   * live-restore stopped every container, or the pause container was killed): the pod's containers are
   * killed, the sandbox is re-created, and every init entry runs again from the first before the mains,
   * each restart under its crash-loop back-off. Nothing starts meanwhile (the sandbox is not ready).
   */
  private sandboxLost(): void {
    if (this.closed || this.passive || this.terminating || this.sandboxRecovery) return;
    this.sandboxReady = false;
    this.emit('', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
    const recovery = this.recreateSandbox().finally(() => (this.sandboxRecovery = undefined));
    this.sandboxRecovery = recovery;
    this.background(recovery, '');
  }

  private async recreateSandbox(): Promise<void> {
    await this.killForNewSandbox();
    // The same sandbox container starts again (new namespaces; its address kept unless taken): retried every
    // second while the engine is away, backing off while it refuses.
    let refusals = 0;
    let said = '';
    for (;;) {
      if (this.closed || this.terminating) return;
      // A pod whose record could not be made failed to start and is being removed: nothing to bring back.
      const pauseId = await this.pauseRecord.catch(() => undefined);
      if (pauseId === undefined) return;
      try {
        const { restarted: _, ...sandbox } = await resumeSandbox(this.docker, pauseId);
        this.sandbox = sandbox;
        break;
      } catch (e) {
        const message = `Failed to create pod sandbox: ${errorMessage(e)}`;
        if (message !== said) this.emit('', 'FailedCreatePodSandBox', message);
        said = message;
        const waitMs = statusOf(e) === undefined ? 1000 : Math.min(1000 * 2 ** refusals++, 30_000);
        await delay(waitMs, undefined, { signal: this.lifetime.signal }).catch(() => undefined);
      }
    }
    this.purgeInits();
    this.sandboxReady = true;
    this.watchSandbox();
    this.changed();
  }

  /**
   * Stops what still runs in the dead sandbox (stop signal, SIGKILL after the grace period), then waits
   * until every exit is recorded — by the exit watchers, once the engine answers again if it is away.
   */
  private async killForNewSandbox(): Promise<void> {
    const running = () => this.all.filter((c) => c.phase === 'running' || c.startInFlight);
    const over = () => running().length === 0 || this.terminating;
    const graceMs = (this.pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS) * 1000;
    // An engine that does not answer has stopped them already, or will be asked again below.
    const signalAll = (signal: (c: ContainerRecord) => string) =>
      Promise.all(running().map((c) => this.signal(c, signal(c)).catch(() => undefined)));
    await signalAll((c) => c.stopSignal);
    if (!(await this.until(over, Math.max(graceMs, MIN_GRACE_MS)))) await signalAll(() => 'SIGKILL');
    await this.until(over, HOOK_TIMEOUT_MS);
  }

  /** The kubelet purges init containers with the old sandbox: every init entry runs again, in order, before the mains. */
  private purgeInits(): void {
    this.cursor = 0;
    for (const c of this.inits) c.succeeded = false;
    this.sandboxRecreated = true;
  }

  // ---- sync: the kubelet's SyncPod, decided by the planner ------------------------------------------

  /** Re-runs the planner and wakes waiters once per turn of the event loop. */
  private changed(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      this.sync();
      this.ending?.step();
      // In the turn of the change, so a condition's lastTransitionTime is when it changed, not when it was read.
      const view = this.status();
      this.stampedConditions = view.conditions;
      if (view.ready || view.phase === 'Succeeded' || view.phase === 'Failed') {
        this.endStart?.();
        void this.cpuBoost.end();
      }
      this.reportReadiness();
      for (const l of [...this.listeners]) l();
    });
  }

  private sync(): void {
    if (this.closed || this.passive || this.frozenAtMs !== null) return;
    const plan = planPod({
      restartPolicy: this.restartPolicy,
      inits: this.inits.map((c) => observe(c, this.backoff.get(c.spec.name))),
      mains: this.mains.map((c) => observe(c, this.backoff.get(c.spec.name))),
      initCursor: this.cursor,
      sandboxReady: this.sandboxReady,
      sandboxRecreated: this.sandboxRecreated,
      terminating: this.terminating,
      backoffLimits: this.backoff.limits,
      nowMs: Date.now(),
    });
    this.cursor = plan.initCursor;
    for (const action of plan.actions) this.execute(action);
  }

  private execute(action: PodAction): void {
    if (action.type === 'finish') {
      // Rules 9 and 11: the pod reached a terminal phase; stop what still runs (sidecars, in reverse order).
      this.outcome ??= action.phase;
      void this.terminate(this.pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS);
      return;
    }
    const c = this.record(action.container);
    switch (action.type) {
      case 'start':
        return this.launch(c);
      case 'restart':
        this.backoff.set(c.spec.name, action.backoff);
        return this.launch(c);
      case 'backoff': {
        // Rule 7: CrashLoopBackOff until the delay has passed, then the planner is asked again.
        const seconds = Math.round(action.delayMs / 100) / 10;
        c.backoffMessage = `back-off ${seconds}s restarting failed container=${c.spec.name} pod=${this.name}`;
        this.emit(c.spec.name, 'BackOff', `Back-off restarting failed container ${c.spec.name} in pod ${this.name}`);
        c.backoffUntilMs = action.untilMs;
        c.backoffTimer = setTimeout(
          () => {
            this.clearBackoff(c);
            this.changed();
          },
          Math.max(0, action.untilMs - Date.now()),
        );
        return;
      }
    }
  }

  private record(name: string): ContainerRecord {
    const c = this.all.find((r) => r.spec.name === name);
    if (!c) throw new Error(`pod ${this.name}: the planner named an unknown container ${name}`);
    return c;
  }

  private clearBackoff(c: ContainerRecord): void {
    clearTimeout(c.backoffTimer);
    c.backoffTimer = undefined;
    c.backoffUntilMs = null;
  }

  // ---- one container run --------------------------------------------------------------------------

  private launch(c: ContainerRecord): void {
    c.starting = true;
    // Termination orders a container whose start is in flight as running (pod-planner.ts terminationMembers).
    c.startInFlight = true;
    this.clearBackoff(c);
    const gen = ++c.generation;
    const run = new AbortController();
    c.run = run;
    const dockerStart = this.dockerStart(c, gen).finally(() => {
      c.startInFlight = false;
      this.changed();
    });
    this.background(
      dockerStart.then((ok) => (ok ? this.afterStart(c, gen, run) : undefined)),
      c.spec.name,
    );
  }

  /** `docker start` the same container again (keeps its config); false if Docker refused. */
  private async dockerStart(c: ContainerRecord, gen: number): Promise<boolean> {
    // An image still being made: the kubelet's pull events around the wait (a kubelet pulls right here too).
    const pull = this.pulls.get(c);
    if (pull) {
      this.pulls.delete(c);
      const image = c.spec.image ?? '';
      // As the kubelet: an image there by the time the container is due is only "present"; otherwise pulled.
      const waited = !pull.settled;
      if (waited) this.emit(c.spec.name, 'Pulling', `Pulling image "${image}"`);
      const startedMs = Date.now();
      if (!(await pull.done)) {
        if (!this.terminating && !this.closed)
          this.emit(c.spec.name, 'Failed', `Failed to pull image "${image}": ${pull.error}`);
      } else if (waited)
        this.emit(c.spec.name, 'Pulled', `Successfully pulled image "${image}" in ${Date.now() - startedMs}ms`);
      else this.emit(c.spec.name, 'Pulled', `Container image "${image}" already present on machine`);
    }
    // A creation that failed fails start() (the pod is then deleted): this start never happens, and the
    // container stays "starting" so that it is not planned again.
    const exists = await c.created.then(
      () => true,
      () => false,
    );
    if (!exists) return false;
    // Deleted or closed while it was being created: it is not started (and no exit watcher would follow it).
    if (this.terminating || this.closed) {
      c.starting = false;
      return false;
    }
    // Where the kubelet creates the container: just before its start (here it exists by now).
    this.emit(c.spec.name, 'Created', `Created container: ${c.spec.name}`);
    try {
      await startContainer(this.docker, c.id);
    } catch (e) {
      if (!isNotModified(e)) {
        c.starting = false;
        c.startInFlight = false;
        // Refused because the sandbox is gone: that is the sandbox's failure, handled as such.
        if (await this.sandboxDown()) {
          this.sandboxLost();
          this.changed();
          return false;
        }
        // The kubelet's StartError: the runtime could not run the process (exit code 128).
        this.markExited(c, { ExitCode: 128, FinishedAt: new Date().toISOString(), OOMKilled: false });
        c.terminatedReason = 'StartError';
        this.emit(c.spec.name, 'Failed', `Error: ${errorMessage(e)}`);
        this.changed();
        return false;
      }
    }
    // Asked until the engine answers: a start whose outcome is unknown would leave the container "starting" for ever.
    const state = await this.stateOf(c.id);
    if (state === null) return false; // closed meanwhile
    c.startInFlight = false;
    c.restartCount = c.everRan ? c.restartCount + 1 : 0;
    c.everRan = true;
    c.phase = 'running';
    c.startedAt = state?.StartedAt ?? new Date().toISOString();
    c.exitCode = null;
    c.finishedAt = null;
    c.terminatedReason = null;
    c.startupPassed = !c.spec.startupProbe;
    c.postStartDone = !c.spec.lifecycle?.postStart;
    c.readinessPassed = false;
    this.emit(c.spec.name, 'Started', `Started container ${c.spec.name}`);
    this.cpuBoost.started(c.spec.name, c.kind === 'main');
    this.background(this.watchExit(c, gen), c.spec.name);
    this.beginProbes(c, gen, Date.parse(c.startedAt) || Date.now());
    this.changed();
    return true;
  }

  /** Rule 2: the postStart hook gates "started"; a failing one kills the container. */
  private async afterStart(c: ContainerRecord, gen: number, run: AbortController): Promise<void> {
    const hook = c.spec.lifecycle?.postStart;
    if (hook && c.generation === gen && !run.signal.aborted) {
      const result = await runAction(this.target(c), hook, { timeoutMs: HOOK_TIMEOUT_MS, signal: run.signal }).catch(
        (e: unknown) => ({
          ok: false,
          message: errorMessage(e),
        }),
      );
      if (c.generation === gen && !run.signal.aborted) {
        if (result.ok) {
          c.postStartDone = true;
          this.beginRuntimeProbes(c, gen);
        } else {
          this.emit(c.spec.name, 'FailedPostStartHook', `PostStartHook failed: ${result.message}`);
          this.emit(c.spec.name, 'Killing', `FailedPostStartHook`);
          this.background(this.stopContainer(c, gen), c.spec.name);
        }
      }
    }
    c.starting = false;
    this.changed();
  }

  /** Startup probe first; readiness and liveness only once the container has started (rule 3). */
  private beginProbes(c: ContainerRecord, gen: number, startedAtMs: number): void {
    const startup = c.spec.startupProbe;
    if (startup && !c.startupPassed) {
      this.probe(c, gen, 'startup', startedAtMs, (ok) => {
        if (ok) {
          c.startupPassed = true;
          this.beginRuntimeProbes(c, gen);
          this.changed();
          return;
        }
        // Rule 8: a failed startup probe kills and restarts the container.
        this.emit(c.spec.name, 'Killing', `Container ${c.spec.name} failed startup probe, will be restarted`);
        this.background(this.stopContainer(c, gen), c.spec.name);
      });
      return;
    }
    this.beginRuntimeProbes(c, gen);
  }

  private beginRuntimeProbes(c: ContainerRecord, gen: number): void {
    if (!isStarted(c) || c.generation !== gen || this.runtimeProbesOf.get(c) === gen) return;
    this.runtimeProbesOf.set(c, gen);
    const startedAtMs = Date.parse(c.startedAt ?? '') || Date.now();
    if (c.spec.readinessProbe) {
      this.probe(c, gen, 'readiness', startedAtMs, (ok) => {
        c.readinessPassed = ok;
        this.changed();
      });
    }
    if (c.spec.livenessProbe) {
      this.probe(c, gen, 'liveness', startedAtMs, (ok) => {
        if (ok) return;
        this.emit(c.spec.name, 'Killing', `Container ${c.spec.name} failed liveness probe, will be restarted`);
        this.background(this.stopContainer(c, gen), c.spec.name);
      });
    }
  }

  private probe(
    c: ContainerRecord,
    gen: number,
    kind: ProbeKind,
    startedAtMs: number,
    onResult: (ok: boolean) => void,
  ): void {
    const probe =
      kind === 'startup' ? c.spec.startupProbe : kind === 'readiness' ? c.spec.readinessProbe : c.spec.livenessProbe;
    const run = c.run;
    if (!probe || !run) return;
    const label = `${kind[0]!.toUpperCase()}${kind.slice(1)}`;
    const loop = runProbeLoop({
      kind,
      probe,
      target: this.target(c),
      startedAtMs,
      signal: AbortSignal.any([run.signal, this.lifetime.signal]),
      holdSignal: this.probesOn.signal,
      ...(kind === 'readiness' ? { initiallyReady: c.readinessPassed } : {}),
      ...(kind !== 'liveness'
        ? { warmupMs: probe.exec ? this.probeWarmupMs : Math.min(this.probeWarmupMs, NETWORK_PROBE_WARMUP_MS) }
        : {}),
      onFailedAttempt: (message) => {
        if (c.generation === gen) this.emit(c.spec.name, 'Unhealthy', `${label} probe failed: ${message}`);
      },
      onResult: (ok) => {
        if (c.generation === gen && !this.terminating) onResult(ok);
      },
    });
    this.probeLoops.add(loop);
    void loop.finally(() => this.probeLoops.delete(loop)).catch(() => undefined);
    this.background(loop, c.spec.name);
  }

  /** Follows one run to its exit (`docker wait`, asked again whenever the engine did not answer). */
  private async watchExit(c: ContainerRecord, gen: number): Promise<void> {
    if (!(await this.untilNotRunning(c.id, c.spec.name))) return;
    if (c.generation !== gen || this.closed) return;
    const state = await this.stateOf(c.id);
    if (state === null || c.generation !== gen || this.closed) return;
    // A container stops with its sandbox (an engine restart stops everything): the sandbox is re-created
    // before anything restarts, so no start goes into a network that is gone.
    if (await this.sandboxDown()) this.sandboxLost();
    if (c.generation !== gen || this.closed) return;
    this.markExited(c, state ?? { ExitCode: 137, FinishedAt: new Date().toISOString(), OOMKilled: false });
    // Dated when the process exited (Docker's FinishedAt), not when the runner noticed: the back-off
    // counts from the exit too, and on a loaded host the notice can come late.
    this.emit(
      c.spec.name,
      'Exited',
      `Container ${c.spec.name} exited with code ${c.exitCode}${c.terminatedReason === 'OOMKilled' ? ' (OOMKilled)' : ''}`,
      c.exitedAtMs ?? undefined,
    );
    this.changed();
  }

  /**
   * Resolves true once container `id` does not run (or is gone), false on close. A wait the engine did
   * not answer (it is away, or restarted and cut the connection) is asked again every second.
   */
  private async untilNotRunning(id: string, container: string): Promise<boolean> {
    let failing = false;
    for (;;) {
      try {
        await waitNotRunning(this.docker, id, this.lifetime.signal);
        return true;
      } catch (e) {
        if (this.lifetime.signal.aborted) return false;
        if (isNotFound(e)) return true;
        // Once per outage, not every second.
        if (!failing) this.emit(container, 'FailedSync', `waiting for exit: ${errorMessage(e)}; retrying`);
        failing = true;
        await delay(1000, undefined, { signal: this.lifetime.signal }).catch(() => undefined);
        if (this.lifetime.signal.aborted) return false;
      }
    }
  }

  /** A container's state, asked every second until the engine answers; undefined if it is gone, null on close. */
  private async stateOf(id: string): Promise<Docker.ContainerInspectInfo['State'] | undefined | null> {
    for (;;) {
      try {
        return (await this.docker.getContainer(id).inspect()).State;
      } catch (e) {
        if (isNotFound(e)) return undefined;
        if (this.lifetime.signal.aborted) return null;
        await delay(1000, undefined, { signal: this.lifetime.signal }).catch(() => undefined);
        if (this.lifetime.signal.aborted) return null;
      }
    }
  }

  private markExited(c: ContainerRecord, state: { ExitCode: number; FinishedAt: string; OOMKilled: boolean }): void {
    c.run?.abort();
    c.phase = 'exited';
    c.exitCode = state.ExitCode;
    c.finishedAt = state.FinishedAt;
    c.exitedAtMs = Date.parse(state.FinishedAt) || Date.now();
    c.terminatedReason = state.OOMKilled ? 'OOMKilled' : state.ExitCode === 0 ? 'Completed' : 'Error';
    c.readinessPassed = false;
    if (c.kind === 'init' && state.ExitCode === 0) c.succeeded = true;
  }

  /** Stops one run outside pod termination (probe or hook failure): stop signal, SIGKILL after the grace period. */
  private async stopContainer(c: ContainerRecord, gen: number): Promise<void> {
    const graceMs = (this.pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS) * 1000;
    const over = () => c.generation !== gen || c.phase !== 'running';
    await this.signal(c, c.stopSignal);
    if (!(await this.until(over, Math.max(graceMs, MIN_GRACE_MS))) && !this.closed) await this.signal(c, 'SIGKILL');
  }

  private serializeFreezer(work: () => Promise<void>): Promise<void> {
    const next = this.freezer.then(work);
    this.freezer = next.catch(() => undefined);
    return next;
  }

  /**
   * Pauses or unpauses one container. True when it changed; false when there was nothing to do: it
   * does not run (exited, gone) or is in that state already (the engine answers those with 409 or 500,
   * so its state is looked at before an error counts).
   */
  private async setPaused(c: ContainerRecord, paused: boolean): Promise<boolean> {
    const container = this.docker.getContainer(c.id);
    try {
      if (paused) await waitForNoExec(this.docker, c.id, EXEC_QUIESCENCE_TIMEOUT_MS);
      await (paused ? container.pause() : container.unpause());
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      const state = await container.inspect().then(
        (i) => i.State,
        (err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)),
      );
      if (!state?.Running || state.Paused === paused) return false;
      throw e;
    }
  }

  /** Back to running after a thaw (or a failed freeze): probes resume from the readiness each container had. */
  private unfrozen(): void {
    this.frozenAtMs = null;
    this.probesOn = new AbortController();
    if (!this.passive && !this.terminating && !this.closed) {
      for (const c of this.all) {
        if (c.phase !== 'running') continue;
        this.runtimeProbesOf.delete(c);
        this.beginProbes(c, c.generation, Date.parse(c.startedAt ?? '') || Date.now());
      }
    }
    this.changed();
  }

  private async signal(c: ContainerRecord, signal: string): Promise<void> {
    try {
      await this.docker.getContainer(c.id).kill({ signal });
    } catch (e) {
      // Not running (409) or gone (404): it has already stopped, which is what we wanted.
      if (!isConflict(e) && !isNotFound(e)) throw e;
    }
  }

  // ---- termination (rules 12–18), ordered by the planner -----------------------------------------

  private terminate(graceSeconds: number): Promise<void> {
    if (!this.termination) {
      this.termination = this.beginTermination(graceSeconds);
      // Surfaced as an event when nobody awaits it (mains finished); delete() awaits and rethrows.
      this.termination.catch((e: unknown) => this.emit('', 'FailedKillPod', errorMessage(e)));
    }
    return this.termination;
  }

  private beginTermination(graceSeconds: number): Promise<void> {
    // Rule 13: one budget, every countdown from t0.
    const deadlineMs = Date.now() + graceSeconds * 1000;
    this.terminating = true; // rule 12: nothing restarts from here on
    for (const c of this.all) this.clearBackoff(c);
    const names = new Set(terminationMembers(this.all.map((c) => observe(c, undefined))));
    for (const c of this.all) c.run?.abort(); // probes and postStart hooks end; no liveness kill during termination
    const host = {
      signal: (c: ContainerRecord, signal: string) => this.signal(c, signal),
      target: (c: ContainerRecord) => this.target(c),
      emit: (container: string, reason: string, message: string) => this.emit(container, reason, message),
      changed: () => this.changed(),
    };
    this.ending = new PodTermination(
      host,
      this.all.filter((c) => names.has(c.spec.name)),
      deadlineMs,
    );
    this.changed();
    return this.ending.done;
  }

  private async deleteAll(gracePeriodSeconds: number | undefined): Promise<void> {
    try {
      await this.stop(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds });
    } finally {
      // Removal is forced, so it runs even if a graceful step failed (that error still propagates).
      await this.close();
      // The containers' output goes with them: it is read to the end first (what the app printed while stopping).
      if (this.drainLogs)
        await this.drainLogs(this.name).catch((e: unknown) => this.emit('', 'FailedDrainLogs', errorMessage(e)));
      await removePodObjects(this.docker, this.name);
      if (this.holderId !== undefined) await removeContainer(this.docker, this.holderId);
      this.sandboxReady = false;
      this.changed();
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private target(c: ContainerRecord): ActionTarget {
    return {
      container: this.docker.getContainer(c.id),
      podIp: this.sandbox?.ip ?? '127.0.0.1',
      ports: c.spec.ports ?? [],
    };
  }

  /** Resolves true once `pred` holds (checked on every change), false after `ms` or on close. */
  private until(pred: () => boolean, ms: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    if (ms <= 0 || this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(v);
      };
      const check = () => {
        if (pred()) done(true);
        else if (this.closed) done(false);
      };
      const timer = setTimeout(() => done(false), ms);
      this.listeners.add(check);
    });
  }

  private emit(container: string, reason: string, message: string, atMs?: number): void {
    const event: PodEvent = { time: new Date(atMs ?? Date.now()).toISOString(), container, reason, message };
    this.events.push(event);
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    this.onEvent?.(event);
    this.changed();
  }

  /** API.md's `Ready` event: a sidecar or main became ready. */
  private reportReadiness(): void {
    for (const c of this.all) {
      if (c.kind === 'init') continue;
      const ready = isReady(c);
      if (ready && !this.reportedReady.has(c)) {
        this.reportedReady.add(c);
        this.emit(c.spec.name, 'Ready', `Container ${c.spec.name} is ready`);
      } else if (!ready) this.reportedReady.delete(c);
    }
  }

  /** Background work never fails silently: its error becomes a pod event. */
  private background(work: Promise<unknown>, container: string): void {
    work.catch((e: unknown) => {
      if (this.closed) return;
      this.emit(container, 'FailedSync', errorMessage(e));
    });
  }
}

/** `docker stats`' memory figure: usage less inactive page cache (cgroup v1 and v2 field names). */
function residentBytes(stats: Docker.ContainerStats): number {
  const m = stats.memory_stats as { usage?: number; stats?: Record<string, number | undefined> } | undefined;
  const inactive = m?.stats?.total_inactive_file ?? m?.stats?.inactive_file ?? 0;
  return Math.max(0, (m?.usage ?? 0) - inactive);
}

/** The image's STOPSIGNAL (rule 15); @types/dockerode lacks the field. */
function stopSignalOf(info: Docker.ContainerInspectInfo): string {
  return (info.Config as { StopSignal?: string }).StopSignal || 'SIGTERM';
}

function summary(v: PodView): string {
  const states = [...v.initContainerStatuses, ...v.containerStatuses].map((s) => {
    const st = s.state.running
      ? 'running'
      : s.state.terminated
        ? `terminated(${s.state.terminated.exitCode})`
        : `waiting(${s.state.waiting?.reason ?? ''})`;
    return `${s.name}=${st}${s.started ? ',started' : ''}${s.ready ? ',ready' : ''} restarts=${s.restartCount}`;
  });
  return `phase ${v.phase}, ready ${v.ready}; ${states.join('; ')}`;
}
