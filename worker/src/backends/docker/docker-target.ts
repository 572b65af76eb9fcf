import { randomInt } from 'node:crypto';
import {
  DomainError,
  ErrorCode,
  Labels,
  RUNTIME_PORT,
  TLS_PORT,
  PlatformSidecar,
  enabledSidecars,
  isPlatformSidecar,
  JOB_OUTPUT_LIMIT_BYTES,
  podFingerprint,
  podNameFor,
  renderJobPod,
  httpSettings,
  type App,
  renderPod,
  renderPodSecrets,
  type PodSecrets,
  validatePod,
  type JobRunInput,
  type JobRunResult,
  type LogSink,
  type PlatformSidecarImages,
  type PlatformSidecarInput,
  type Pod,
  type PodEvent,
  type PodView,
  type PrepareInput,
  type PreparedPod,
  type RolloutInput,
  type RouteTable,
  SuspendReason,
  type Target,
  type TemplateSettings,
  type TlsMaterial,
  type Upstream,
  tailBytes,
  errorText,
  silentLog,
  type Log,
} from '@sidecar/core';
import type Docker from 'dockerode';
import {
  type DrainLogs,
  evictPod,
  listPodContainers,
  NetnsPool,
  PLATFORM_LABEL,
  PodRunner,
  type StartupCpuBoost,
} from '@sidecar/kubelet';
import { type PreparedEntry, PreparedPods } from './prepared-pods.js';

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
  /** The platform sidecars' images and the TLS certificate issuer (docs/sidecars.md); without it, apps enabling one fail to roll out. */
  platformSidecars?: PlatformSidecarsOptions;
  /** Warm network namespaces kept per port set (netns-pool.ts); 0 or absent: every pod creates its own. */
  warmSandboxes?: number;
  /** The worker's operational log (default: nowhere); deploy progress goes to each deploy's own log. */
  log?: Log;
  /**
   * How long the previous release's pods are kept frozen after a rollout, for an instant rollback
   * (SIDECAR_ROLLBACK_WINDOW_MS); 0 or absent: they are stopped at once.
   */
  rollbackWindowMs?: number;
  /** Reads a deleted pod's output to the end before its containers are removed (the log collector's drainPod). */
  drainLogs?: DrainLogs;
  /** More CPU for a pod's containers while it starts (PodRunnerOptions.startupCpuBoost); absent: none. */
  startupCpuBoost?: StartupCpuBoost;
  /** How long a pod started during a build waits, once its image exists, for a rollout to take it (default 5 min). */
  preparedTtlMs?: number;
}

/** The previous release's pods of an app, frozen, until `until` (ms since the epoch). */
interface WarmSet {
  release: number | null;
  fingerprint: string;
  runners: PodRunner[];
  until: number;
  timer?: NodeJS.Timeout;
}

export interface PlatformSidecarsOptions {
  images: PlatformSidecarImages;
  /** A certificate for the app's host name, signed by the platform CA (used when the app brings none). */
  issueTls(app: string): Promise<TlsMaterial>;
}

/** New pods that never served traffic are removed with this grace, not the template's. */
const FAILED_ROLLOUT_GRACE_SECONDS = 2;
/** The logic sidecar's container in the pod template (core renderPod): the one whose image a build makes. */
const LOGIC_CONTAINER = 'app';
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
  /** Per app, the pods in rotation (Ready ones among them get traffic), and what the router was last given. */
  private readonly serving = new Map<string, Set<string>>();
  private readonly routed = new Map<string, string>();
  private readonly routeSync = new Map<string, Promise<void>>();
  /** Job pods run to completion beside the app's serving pods, never in its rotation. */
  private readonly jobs = new Set<PodRunner>();
  /** Pods being deleted (out of rotation, draining): never an old pod of another rollout. */
  private readonly stopping = new Set<PodRunner>();
  private closing: Promise<void> | undefined;
  /** Pods that could not be adopted, being deleted (adopt()); close() waits for them. */
  private readonly evictions = new Set<Promise<void>>();

  private readonly pool: NetnsPool | undefined;
  /** Per app, the previous release's pods kept frozen for a rollback (at most one set per app). */
  private readonly warm = new Map<string, WarmSet>();
  /** Per app, the last rollout's installation of its warm set: installations happen in rollout order. */
  private readonly warmInstalls = new Map<string, Promise<void>>();
  /** Pods this process rendered: only their full spec (env values included) is known, so only they can be kept warm. */
  private readonly rendered = new WeakMap<PodRunner, string>();
  /** Pods leaving rotation on their way into a warm set (draining, then freezing). */
  private readonly retiring = new Set<PodRunner>();
  /** Resident memory of frozen pods, measured once after the freeze. */
  private readonly frozenMemory = new WeakMap<PodRunner, number>();
  /** Per app scaled to zero, its suspended pods (out of rotation, frozen). */
  private readonly idle = new Map<string, PodRunner[]>();
  /** Apps with a rollout running now: never suspended meanwhile. */
  private readonly rolling = new Set<string>();
  /** Per app, suspends and wakes one after the other, in call order. */
  private readonly idleOps = new Map<string, Promise<unknown>>();
  /** Releases' first pods started during their builds (prepare), until a rollout takes them. */
  private readonly prepared: PreparedPods;

  constructor(opts: DockerTargetOptions) {
    this.opts = opts;
    this.prepared = new PreparedPods({
      ttlMs: opts.preparedTtlMs ?? 5 * 60_000,
      remove: ({ app, runner }, reason) => {
        this.log.info({ app, pod: runner.name, reason }, 'deleting a pod started during a build');
        this.background(runner.delete({ gracePeriodSeconds: FAILED_ROLLOUT_GRACE_SECONDS }), `deleting ${runner.name}`);
      },
    });
    if (opts.warmSandboxes) {
      this.pool = new NetnsPool({
        docker: opts.docker,
        pauseImage: opts.pauseImage,
        size: opts.warmSandboxes,
        warm: [[RUNTIME_PORT]],
        ...(opts.platformId !== undefined ? { platformId: opts.platformId } : {}),
        ...(opts.log ? { log: opts.log } : {}),
      });
    }
  }

  /**
   * Starts warming network namespaces (after removing a crashed worker's unclaimed ones).
   * Not needed for correctness: until they are warm, pods create their own.
   */
  warmUp(): Promise<void> {
    return this.pool?.start() ?? Promise.resolve();
  }

  /**
   * A rolling update with surge 1 and unavailable 0: one new pod at a time is started and
   * must become Ready; it joins the routes before one old pod leaves them (router-acknowledged),
   * and only then is that old pod stopped (gracefully: the runtime drains in-flight requests).
   * If the first new pod never becomes Ready, nothing of the old release was touched.
   */
  async apply(input: RolloutInput): Promise<void> {
    const app = input.app.name;
    this.rolling.add(app);
    try {
      // A rollout of an app scaled to zero starts from its pods awake (they serve until replaced).
      if (await this.wake(app)) input.log(`woke the app's suspended pods for the rollout`);
      await this.rollOut(input);
    } finally {
      this.rolling.delete(app);
    }
  }

  /**
   * Starts the release's first pod while its logic image builds: the sandbox and the containers before the
   * logic sidecar (the log shipper) start now, the logic sidecar once the build made its image (a kubelet
   * starts earlier containers the same way while a later one's image is pulled). The rollout takes it.
   */
  async prepare({ app, release, log }: PrepareInput): Promise<PreparedPod | undefined> {
    if (this.closing || app.replicas === 0) return undefined;
    this.declareRoutes(app);
    const sidecars = await this.platformSidecarInput(app);
    if (this.closing) return undefined; // close() has taken the registry's pods already
    const fingerprint = this.fingerprintOf(app, release, sidecars);
    let pull!: { resolve: () => void; reject: (e: Error) => void };
    const image = new Promise<void>((resolve, reject) => (pull = { resolve, reject }));
    image.catch(() => undefined); // a discarded pod that never reached its logic sidecar
    const sink = { log: log as LogSink | undefined };
    const runner = this.newAppPod(app, release, sink, sidecars, fingerprint, new Map([[LOGIC_CONTAINER, image]]));
    const entry: PreparedEntry = { app: app.name, runner, fingerprint, sink, pull, startFailed: false };
    // A pod whose start failed is not taken: the rollout starts a new one (takePrepared).
    runner.start().catch(() => (entry.startFailed = true));
    log(`pod ${runner.name}: starting while the image builds`);
    return this.prepared.add(release.deployId, entry);
  }

  discardPrepared(deployId: string): void {
    this.prepared.discard(deployId, 'its deploy did not roll it out');
  }

  /** This release's pod started during its build, if it is the pod the rollout would start; else it goes. */
  private takePrepared(
    release: RolloutInput['release'],
    fingerprint: string,
    sink: { log: LogSink | undefined },
  ): PodRunner | undefined {
    const entry = this.prepared.take(release.deployId);
    if (!entry) return undefined;
    const unfit = unfitPrepared(entry, release.version, fingerprint);
    if (unfit) {
      sink.log?.(`pod ${entry.runner.name}, started during the build, ${unfit}; starting a new one`);
      this.prepared.drop(entry, unfit);
      return undefined;
    }
    // From now on its progress lines are the rollout's (and end with it).
    entry.sink.log = (line) => sink.log?.(line);
    return entry.runner;
  }

  private async rollOut({ app, release, signal, log, onServing }: RolloutInput): Promise<void> {
    this.declareRoutes(app);
    const pods = this.podsOf(app.name);
    // The previous release's warm pods, taken out of the map for this rollout: a rollback to that
    // release thaws them instead of starting pods; any other rollout stops them once it serves.
    const warm = this.takeWarm(app.name);
    const warmRunners = new Set(warm?.runners ?? []);
    // The pods in rotation now serve the current release (a thawed pod keeps its older release's name).
    const servingBefore = new Set(this.serving.get(app.name) ?? []);
    // Pods an earlier rollout is still stopping are not counted (as in Kubernetes): they left the routes.
    const others = [...pods.values()].filter(
      (r) => !this.stopping.has(r) && !this.retiring.has(r) && !warmRunners.has(r),
    );
    // Pods out of rotation (adopted ones of a rollout cut short by a worker's death) serve nobody: they go now,
    // never entering the rotation of this rollout's surge. The others are replaced one by one.
    const strays = others.filter((r) => !servingBefore.has(r.name));
    const olds = others.filter((r) => servingBefore.has(r.name));
    // Deploy-log lines only while this rollout runs; the runners outlive it.
    const sink: { log: LogSink | undefined } = { log };
    const news: PodRunner[] = [];
    const readyTimeoutMs = this.opts.readyTimeoutMs ?? 60_000;
    const sidecars = await this.platformSidecarInput(app);
    const fingerprint = this.fingerprintOf(app, release, sidecars);
    const reusable = warm?.fingerprint === fingerprint ? [...warm.runners] : [];
    // Old pods stop (drain, then go) while the next new pod starts; the rollout ends when all have gone.
    const stops: Promise<unknown>[] = [];
    // The router first drains the pods' open connections (WebSockets), up to the app's drain limit.
    const drainMs = (httpSettings(app.http).drainSeconds + 5) * 1000;
    const settle = (work: Promise<unknown>) =>
      stops.push(
        work.then(
          () => undefined,
          (e: unknown) => e ?? new Error('stopping a pod failed'),
        ),
      );
    const drained = (runners: PodRunner[]) =>
      this.opts.routes.waitForDrain(
        runners.map((r) => r.name),
        drainMs,
      );
    const stop = (runners: PodRunner[]) => {
      // Stopping from now on, not only once drained: a rollout that begins meanwhile (the lock is released
      // once this one serves) must not count them as its own old or stray pods.
      for (const r of runners) this.stopping.add(r);
      return settle(drained(runners).then(() => this.deletePods(app.name, runners)));
    };
    if (strays.length > 0) {
      log(`stopping pods out of rotation: ${strays.map((r) => r.name).join(', ')}`);
      stop(strays);
    }
    // The serving release's pods become the next warm set (frozen once drained), unless nothing is to
    // run any more (scaled to zero replicas: the user stopped the app) or the window is off.
    const windowMs = this.opts.rollbackWindowMs ?? 0;
    const next: WarmSet | undefined =
      windowMs > 0 && app.replicas > 0 && app.currentRelease !== null
        ? { release: app.currentRelease, fingerprint: '', runners: [], until: 0 }
        : undefined;
    const retire = (runner: PodRunner) => {
      const print = this.rendered.get(runner);
      const serving = servingBefore.has(runner.name);
      if (!next || print === undefined || !serving || (next.fingerprint !== '' && next.fingerprint !== print)) {
        log(`stopping previous pod ${runner.name}`);
        return stop([runner]);
      }
      next.fingerprint = print;
      this.retiring.add(runner);
      log(`keeping previous pod ${runner.name} frozen for a rollback (${Math.round(windowMs / 1000)} s)`);
      settle(
        drained([runner])
          .then(() => this.freezeWarm(runner))
          .then(
            () => void next.runners.push(runner),
            (e: unknown) => {
              log(`previous pod ${runner.name} could not be frozen (${errorText(e)}); stopping it`);
              return this.deletePods(app.name, [runner]);
            },
          )
          .finally(() => this.retiring.delete(runner)),
      );
    };
    let failed = false;
    try {
      for (let i = 0; i < app.replicas; i++) {
        const thawed = await this.thawWarm(app.name, reusable, log);
        const prepared = thawed || i > 0 ? undefined : this.takePrepared(release, fingerprint, sink);
        let runner = thawed ?? prepared ?? this.newAppPod(app, release, sink, sidecars, fingerprint);
        if (!thawed) {
          pods.set(runner.name, runner);
          try {
            signal.throwIfAborted();
            // The pod started during the build may still be creating its containers: if that fails, the
            // rollout starts a pod of its own (what it would have done without one).
            if (
              runner === prepared &&
              !(await runner.start().then(
                () => true,
                () => false,
              ))
            ) {
              log(`pod ${runner.name}, started during the build, could not start; starting a new one`);
              this.background(
                this.deletePods(app.name, [runner], FAILED_ROLLOUT_GRACE_SECONDS),
                `deleting ${runner.name}`,
              );
              runner = this.newAppPod(app, release, sink, sidecars, fingerprint);
              pods.set(runner.name, runner);
            }
            await runner.start();
            await runner.waitFor((v) => v.ready, { timeoutMs: readyTimeoutMs, signal });
          } catch (error) {
            sink.log = undefined;
            const reason = signal.aborted ? 'cancelled' : await notReadyReason([runner], error, readyTimeoutMs);
            const serving =
              news.length === 0
                ? `v${app.currentRelease ?? '-'} keeps serving`
                : `${news.length} pod(s) of v${release.version} already serve beside v${app.currentRelease ?? '-'}`;
            log(`rollout of v${release.version} failed: ${reason}; removing its new pod, ${serving}`);
            await this.deletePods(app.name, [runner], FAILED_ROLLOUT_GRACE_SECONDS);
            if (signal.aborted)
              throw new DomainError(ErrorCode.cancelled, `rollout of v${release.version} cancelled`, { cause: error });
            throw new DomainError(ErrorCode.notReady, `v${release.version} did not become ready: ${reason}`, {
              cause: error,
            });
          }
        }
        news.push(runner);
        const leaving = olds.shift();
        await this.serve(app.name, [...news, ...olds]);
        log(`routes: ${app.name} → ${[...news, ...olds].map((r) => r.name).join(', ')}`);
        if (leaving) retire(leaving);
      }
      // Scaling down (or to zero): the pods beyond the new count leave the routes, then stop.
      if (olds.length > 0 || app.replicas === 0) {
        await this.serve(app.name, news);
        if (olds.length > 0) log(`previous pods leave rotation: ${olds.map((r) => r.name).join(', ')}`);
        for (const r of olds.splice(0)) retire(r);
      }
      // The warm pods of an older release not taken back: that release is two rollouts back now.
      const unused = [...warmRunners].filter((r) => !news.includes(r));
      if (unused.length > 0) {
        log(`stopping warm pods of v${warm?.release ?? '-'}: ${unused.map((r) => r.name).join(', ')}`);
        stop(unused);
      }
      warmRunners.clear();
      sink.log = undefined;
      await onServing?.();
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      // A failed rollout leaves the warm pods it did not take back as they were.
      const left = [...warmRunners].filter((r) => !news.includes(r));
      if (warm && left.length > 0) this.putWarm(app.name, { ...warm, runners: left });
      // Every stop runs to its end, whatever happened; a failed stop fails a rollout that did not fail otherwise.
      const failure = (await Promise.all(stops)).find((e) => e !== undefined);
      if (next && next.runners.length > 0) await this.installWarm(app.name, next, windowMs);
      if (failure !== undefined && !failed) throw failure; // eslint-disable-line no-unsafe-finally
    }
  }

  // ---- scale to zero --------------------------------------------------------------------------------

  /** Runs `op` after the app's earlier suspends and wakes. */
  private inIdleOrder<T>(app: string, op: () => Promise<T>): Promise<T> {
    const mine = (this.idleOps.get(app) ?? Promise.resolve()).then(op);
    const settled = mine.catch(() => undefined);
    this.idleOps.set(app, settled);
    void settled.then(() => {
      if (this.idleOps.get(app) === settled) this.idleOps.delete(app);
    });
    return mine;
  }

  /**
   * Out of rotation first (router-acknowledged; requests that come now go to the router's waker, which
   * asks for a wake that runs after this), then, once their connections have drained, frozen: no CPU,
   * their memory kept (reported by status()).
   */
  suspend(app: string, opts: { drainSeconds: number }): Promise<string[]> {
    return this.inIdleOrder(app, async () => {
      if (this.rolling.has(app) || this.idle.has(app) || this.closing) return [];
      const names = this.serving.get(app);
      const runners = [...(names ?? [])]
        .map((n) => this.apps.get(app)?.get(n))
        .filter((r): r is PodRunner => r !== undefined && !this.stopping.has(r));
      if (runners.length === 0) return [];
      this.idle.set(app, runners);
      await this.serve(app, []);
      // As in a rollout: connections still open (a long request, a WebSocket) get the app's drain limit.
      await this.opts.routes.waitForDrain(
        runners.map((r) => r.name),
        (opts.drainSeconds + 5) * 1000,
      );
      const frozen = await Promise.allSettled(runners.map((r) => this.freezeWarm(r)));
      const failed = runners.filter((_, i) => frozen[i]!.status === 'rejected');
      if (failed.length > 0)
        this.log.warn({ app, pods: failed.map((r) => r.name) }, 'suspending: a pod could not be frozen');
      this.log.info({ app, pods: runners.map((r) => r.name) }, 'app idle: pods suspended');
      return runners.map((r) => r.name);
    });
  }

  isSuspended(app: string): boolean {
    return this.idle.has(app);
  }

  /** Thawed and back in rotation (router-acknowledged): the router's held requests go to them. */
  wake(app: string): Promise<boolean> {
    return this.inIdleOrder(app, async () => {
      const runners = this.idle.get(app);
      if (!runners) return false;
      this.idle.delete(app);
      const thawed = await Promise.allSettled(runners.map((r) => r.thaw()));
      const back: PodRunner[] = [];
      runners.forEach((r, i) => {
        this.frozenMemory.delete(r);
        if (thawed[i]!.status === 'fulfilled' && this.apps.get(app)?.has(r.name)) back.push(r);
        else this.log.warn({ app, pod: r.name }, 'waking: a pod could not be thawed');
      });
      // Not after a removal of the app that ran meanwhile (it is ordered with suspends and wakes).
      if (this.apps.has(app)) await this.serve(app, back);
      this.log.info({ app, pods: back.map((r) => r.name) }, 'app woken');
      return true;
    });
  }

  // ---- the previous release, kept warm ------------------------------------------------------------

  /** What a pod of this release would be, without its release name (podFingerprint). */
  private fingerprintOf(
    app: RolloutInput['app'],
    release: RolloutInput['release'],
    sidecars: PlatformSidecarInput | undefined,
  ): string {
    const { pod, secrets } = this.render(app, release, 'fingerprint', sidecars);
    return podFingerprint(pod, { secrets, ignoreIssuedTls: app.sidecars.tls.cert === undefined });
  }

  /** Removes the app's warm set from the map (its timer with it) and hands it over. */
  private takeWarm(app: string): WarmSet | undefined {
    const set = this.warm.get(app);
    if (!set) return undefined;
    clearTimeout(set.timer);
    this.warm.delete(app);
    return set;
  }

  /** Puts a warm set back (a rollout that failed, or a new one), stopping it when its window ends. */
  private putWarm(app: string, set: WarmSet): void {
    clearTimeout(set.timer);
    const expire = () => {
      if (this.warm.get(app) !== set) return;
      this.warm.delete(app);
      this.background(
        this.deletePods(app, set.runners),
        `stopping the warm pods of ${app} (v${set.release ?? '-'}), whose window ended`,
      );
    };
    set.timer = setTimeout(expire, Math.max(0, set.until - Date.now()));
    set.timer.unref();
    this.warm.set(app, set);
  }

  /** Installs a rollout's warm set after the previous rollout's (in rollout order); an older set is stopped. */
  private installWarm(app: string, set: WarmSet, windowMs: number): Promise<void> {
    const previous = this.warmInstalls.get(app) ?? Promise.resolve();
    const mine = previous.then(async () => {
      const older = this.takeWarm(app);
      if (!this.apps.has(app) || this.serving.get(app) === undefined) {
        // The app was removed meanwhile: nothing to keep.
        await this.deletePods(app, [...set.runners, ...(older?.runners ?? [])]);
        return;
      }
      this.putWarm(app, { ...set, until: Date.now() + windowMs });
      if (older) await this.deletePods(app, older.runners);
    });
    const settled = mine.catch((e: unknown) => this.log.error({ app, err: e }, 'handling the warm pods failed'));
    this.warmInstalls.set(app, settled);
    return settled;
  }

  /** Freezes a drained pod and measures what it keeps (in the background). */
  private async freezeWarm(runner: PodRunner): Promise<void> {
    await runner.freeze();
    this.measureFrozen(runner);
  }

  private measureFrozen(runner: PodRunner): void {
    void runner.memoryBytes().then(
      (bytes) => this.frozenMemory.set(runner, bytes),
      () => undefined,
    );
  }

  /**
   * Takes the next warm pod back into service: thawed, and routable at once (it was Ready when frozen).
   * One that cannot be (a container died meanwhile, the thaw failed) is stopped and the next one tried;
   * undefined when none is left, and the rollout starts a new pod instead.
   */
  private async thawWarm(app: string, reusable: PodRunner[], log: LogSink): Promise<PodRunner | undefined> {
    for (let runner = reusable.shift(); runner; runner = reusable.shift()) {
      try {
        await runner.thaw();
        this.frozenMemory.delete(runner);
        if (upstreamOf(runner)) {
          log(`pod ${runner.name}: thawed (kept warm since the last rollout)`);
          return runner;
        }
        log(`warm pod ${runner.name} is not ready after its thaw; stopping it and starting a new pod`);
      } catch (e) {
        log(`warm pod ${runner.name} could not be thawed (${errorText(e)}); starting a new pod`);
      }
      this.background(this.deletePods(app, [runner], FAILED_ROLLOUT_GRACE_SECONDS), `stopping warm pod ${runner.name}`);
    }
    return undefined;
  }

  /** Work nobody awaits: close() waits for it, and a failure is logged. */
  private background(work: Promise<unknown>, what: string): void {
    const done: Promise<void> = work
      .then(
        () => undefined,
        (e: unknown) => this.log.error({ err: e }, `${what} failed`),
      )
      .finally(() => this.evictions.delete(done));
    this.evictions.add(done);
  }

  /**
   * An app this target has not routed yet is declared to the routers (RouteTable.declare), so that they
   * add its backend while its pods start, not once the first is Ready (the API declared it at its creation
   * already; this is for apps made before that, or whose entry went). A hint: a failure only costs time. An app
   * that scales to zero too: until it has a release or pods in rotation its requests get their 503 at once.
   */
  private declareRoutes(app: App): void {
    if (this.routed.has(app.name)) return;
    this.opts.routes
      .declare(app.name)
      .catch((e: unknown) => this.log.warn({ app: app.name, err: e }, 'declaring the app to the routers failed'));
  }

  /** Puts exactly these pods in the app's rotation; the router gets those of them that are Ready. */
  private serve(app: string, runners: PodRunner[]): Promise<void> {
    this.serving.set(app, new Set(runners.map((r) => r.name)));
    return this.syncRoutes(app);
  }

  /**
   * Routes follow readiness: a serving pod that stops being Ready leaves the router's
   * table and returns when Ready again (as a Service's endpoints do). Serialized per app.
   */
  private syncRoutes(app: string): Promise<void> {
    const previous = this.routeSync.get(app) ?? Promise.resolve();
    const next = previous.then(async () => {
      const names = this.serving.get(app);
      if (!names) return;
      const upstreams = [...names]
        .map((n) => this.apps.get(app)?.get(n))
        .filter((r): r is PodRunner => r !== undefined)
        .map(upstreamOf)
        .filter((u): u is Upstream => u !== undefined);
      const key = JSON.stringify(upstreams);
      if (this.routed.get(app) === key) return;
      await this.opts.routes.set(app, upstreams);
      this.routed.set(app, key);
    });
    const settled = next.catch((e: unknown) => this.log.error({ app, err: e }, 'setting the routes failed'));
    this.routeSync.set(app, settled);
    return next;
  }

  /** Re-syncs the app's routes when what a serving pod can take (HTTP, HTTPS) changes. */
  private followReadiness(app: string, runner: PodRunner): void {
    const routable = () => JSON.stringify(upstreamOf(runner) ?? null);
    let ready = routable();
    runner.onChange(() => {
      const now = routable();
      if (now === ready) return;
      ready = now;
      if (this.serving.get(app)?.has(runner.name)) void this.syncRoutes(app).catch(() => undefined);
    });
  }

  /** Images and, when TLS is on, the certificate: the app's own, else one issued now by the platform CA. */
  private async platformSidecarInput(app: RolloutInput['app']): Promise<PlatformSidecarInput | undefined> {
    const wanted = enabledSidecars(app.sidecars);
    if (wanted.length === 0) return undefined;
    const platform = this.opts.platformSidecars;
    if (!platform)
      throw new DomainError(
        ErrorCode.invalidRequest,
        `this target runs no platform sidecars (${wanted.join(', ')} enabled)`,
      );
    if (!wanted.includes(PlatformSidecar.tls)) return { images: platform.images };
    const { cert, key } = app.sidecars.tls;
    return {
      images: platform.images,
      tls: cert !== undefined && key !== undefined ? { cert, key } : await platform.issueTls(app.name),
    };
  }

  /** The pod of a release, with its render input (the kubelet writes the TLS material from it as files). */
  private render(
    app: RolloutInput['app'],
    release: RolloutInput['release'],
    suffix: string,
    sidecars: PlatformSidecarInput | undefined,
  ): { pod: Pod; secrets: PodSecrets } {
    const input = {
      app,
      release,
      podName: podNameFor(app.name, release.version, suffix),
      ...(this.opts.settings ? { settings: this.opts.settings } : {}),
      ...(sidecars ? { platformSidecars: sidecars } : {}),
    };
    const pod = renderPod(input);
    if (this.opts.platformId !== undefined)
      pod.metadata.labels = { ...pod.metadata.labels, [PLATFORM_LABEL]: this.opts.platformId };
    return { pod, secrets: renderPodSecrets(input) };
  }

  private newAppPod(
    app: RolloutInput['app'],
    release: RolloutInput['release'],
    sink: { log: LogSink | undefined },
    sidecars: PlatformSidecarInput | undefined,
    fingerprint: string,
    pendingImages?: ReadonlyMap<string, Promise<void>>,
  ): PodRunner {
    const { pod, secrets } = this.render(app, release, randomSuffix(), sidecars);
    validatePod(pod);
    // The TLS material reaches the kubelet as a Secret's data, which it writes as files (never env).
    const runner = this.runner(pod, progress(pod.metadata.name ?? '', sink), secrets, pendingImages);
    this.rendered.set(runner, fingerprint);
    this.followReadiness(app.name, runner);
    return runner;
  }

  /** The app's pods; frozen ones say so (`suspended`: why, since when, the memory they keep, until when). */
  async status(app: string): Promise<PodView[]> {
    const warm = this.warm.get(app);
    return [...(this.apps.get(app)?.values() ?? [])].map((r) => {
      const view = r.status();
      const since = r.frozenSince;
      if (since === null) return view;
      const isWarm = warm?.runners.includes(r) === true;
      return {
        ...view,
        suspended: {
          reason: isWarm || this.retiring.has(r) ? SuspendReason.warm : SuspendReason.idle,
          since: new Date(since).toISOString(),
          memoryBytes: this.frozenMemory.get(r) ?? null,
          ...(isWarm ? { until: new Date(warm.until).toISOString() } : {}),
        },
      };
    });
  }

  /** Ordered with the app's suspends and wakes: a wake that comes after it finds nothing to thaw. */
  remove(app: string): Promise<void> {
    return this.inIdleOrder(app, () => this.removeNow(app));
  }

  private async removeNow(app: string): Promise<void> {
    // Out of rotation first, so no readiness flip re-adds a route while the pods stop.
    this.serving.delete(app);
    // Warm and suspended pods are among the app's pods (deleted below, thawed first by the runner).
    this.takeWarm(app);
    this.idle.delete(app);
    await this.routeSync.get(app);
    await this.opts.routes.remove(app);
    const known = this.podsOf(app);
    // Pods started during a build go with the others (their wait for an image ends with the deletion).
    for (const { runner, sink } of this.prepared.takeAll(app)) {
      sink.log = undefined;
      known.set(runner.name, runner);
    }
    // Pods of the app this process does not supervise (never adopted) are removed too.
    const labelled = await this.opts.docker.listContainers({
      all: true,
      filters: {
        label: [
          `${Labels.managed}=true`,
          `${Labels.app}=${app}`,
          `${Labels.role}=pause`,
          // Another platform on the same engine may have an app of the same name: never touch it.
          ...(this.opts.platformId !== undefined ? [`${PLATFORM_LABEL}=${this.opts.platformId}`] : []),
        ],
      },
    });
    for (const c of labelled) {
      const name = c.Labels[Labels.pod];
      if (name && !known.has(name))
        known.set(name, await PodRunner.adopt({ docker: this.opts.docker, podName: name, ...this.runnerExtras() }));
    }
    await this.deletePods(app, [...known.values()]);
    this.apps.delete(app);
    this.routed.delete(app);
  }

  async ping(): Promise<void> {
    await this.opts.docker.ping();
  }

  async runJob(input: JobRunInput): Promise<JobRunResult> {
    const { app, release, signal } = input;
    const pod = renderJobPod({
      app,
      release,
      podName: `${app.name}-job-${randomSuffix()}`,
      command: input.command,
      env: input.env,
      ...(this.opts.settings ? { settings: this.opts.settings } : {}),
    });
    pod.metadata.labels = { ...pod.metadata.labels, [Labels.deploy]: input.jobId };
    if (this.opts.platformId !== undefined)
      pod.metadata.labels = { ...pod.metadata.labels, [PLATFORM_LABEL]: this.opts.platformId };
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

  /**
   * Re-adopts every managed pod of this platform (worker start), so restarts and status keep working.
   * A pod of this platform that cannot be adopted (`failed`) would run on unsupervised and unreported:
   * it is deleted in the background, gracefully (kubelet order as far as its labels tell, evictPod),
   * with a line to `log` (default: stderr) when that begins and when it ends. Without a platform id
   * nothing is deleted.
   */
  async adopt(
    opts: {
      log?: (line: string) => void;
      /** The pods of an app scaled to zero that were suspended (they are kept so); none when it is not idle. */
      suspendedPods?: (app: string) => Promise<string[]>;
    } = {},
  ): Promise<{ adopted: string[]; failed: { pod: string; error: Error }[] }> {
    const log = opts.log ?? ((line: string) => this.log.info({}, line));
    const adopted: string[] = [];
    const failed: { pod: string; error: Error }[] = [];
    if (this.opts.platformId !== undefined) {
      const { removed, failed: left } = await PodRunner.removeIncomplete(this.opts.docker, {
        platformId: this.opts.platformId,
      });
      if (removed.length > 0)
        log(`removed ${removed.length} pod(s) whose creation a previous worker left unfinished: ${removed.join(', ')}`);
      for (const { pod, error } of left)
        log(`pod ${pod}, whose creation a previous worker left unfinished, could not be removed: ${errorText(error)}`);
    }
    const names = await PodRunner.list(
      this.opts.docker,
      this.opts.platformId !== undefined ? { platformId: this.opts.platformId } : {},
    );
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
        this.followReadiness(app, runner);
        adopted.push(name);
      } catch (e) {
        // Removed while we looked at it: nothing to adopt.
        if ((await listPodContainers(this.opts.docker, name)).length === 0) continue;
        const error = e instanceof Error ? e : new Error(String(e));
        failed.push({ pod: name, error });
        if (this.opts.platformId !== undefined) this.evict(name, error, log);
      }
    }
    for (const app of new Set(adopted.map((n) => this.appOf(n)).filter((a): a is string => a !== undefined)))
      await this.resumeServing(app, new Set((await opts.suspendedPods?.(app)) ?? []));
    return { adopted, failed };
  }

  /**
   * After adoption, the rotation is what the router had: the routed pods and the other pods
   * of their release. Routes are not rewritten now (adopted pods are re-probed and start
   * un-Ready); they follow readiness flips from here on. Pods of other releases (a rollout
   * cut short) stay out of rotation until the next rollout replaces them.
   */
  private async resumeServing(app: string, suspendedPods: ReadonlySet<string>): Promise<void> {
    const routed = await this.opts.routes.get(app);
    const routedPods = new Set(routed.map((u) => u.pod));
    let pods = [...(this.apps.get(app)?.values() ?? [])];
    // An app scaled to zero: its suspended pods stay so, and the next request wakes them.
    const suspended = pods.filter((r) => routed.length === 0 && r.frozenSince !== null && suspendedPods.has(r.name));
    if (suspended.length > 0) {
      this.idle.set(app, suspended);
      pods = pods.filter((r) => !suspended.includes(r));
      for (const r of suspended) this.measureFrozen(r);
    }
    const releases = new Set(
      pods.filter((r) => routedPods.has(r.name)).map((r) => r.pod.metadata.labels?.[Labels.release]),
    );
    // A frozen pod out of rotation was kept warm by the worker before this one. Its full spec (env values)
    // is not stored anywhere, so no rollout can tell whether it may take it back: it is stopped.
    const warm = pods.filter((r) => r.frozenSince !== null && !routedPods.has(r.name));
    if (warm.length > 0) {
      this.log.info({ app, pods: warm.map((r) => r.name) }, 'stopping warm pods kept by an earlier worker');
      this.background(this.deletePods(app, warm), `stopping warm pods of ${app}`);
    }
    const serving = pods.filter(
      (r) => !warm.includes(r) && (routedPods.has(r.name) || releases.has(r.pod.metadata.labels?.[Labels.release])),
    );
    this.serving.set(app, new Set(serving.map((r) => r.name)));
    this.routed.set(app, JSON.stringify(routed));
  }

  private evict(pod: string, why: Error, log: (line: string) => void): void {
    log(`pod ${pod} cannot be adopted (${why.message}); deleting it`);
    const eviction = evictPod(this.opts.docker, pod, this.opts.drainLogs ? { drainLogs: this.opts.drainLogs } : {})
      .then(
        () => log(`pod ${pod}, which could not be adopted, is deleted`),
        (e: unknown) => log(`deleting pod ${pod} failed: ${errorText(e)}`),
      )
      .finally(() => this.evictions.delete(eviction));
    this.evictions.add(eviction);
  }

  private appOf(pod: string): string | undefined {
    for (const [app, pods] of this.apps) if (pods.has(pod)) return app;
    return undefined;
  }

  /** Stops supervising every pod; pods keep running and are adopted by the next worker. Safe twice. */
  close(): Promise<void> {
    // Warm pods stay frozen; the next worker stops them at adoption (it cannot tell what they were made from).
    for (const set of this.warm.values()) clearTimeout(set.timer);
    // Pods started during builds go: no rollout of this process will take them (deleted in the background,
    // which closing waits for).
    for (const entry of this.prepared.takeAll()) this.prepared.drop(entry, 'the worker is stopping');
    const runners = [...[...this.apps.values()].flatMap((m) => [...m.values()]), ...this.jobs];
    this.closing ??= Promise.all([...runners.map((r) => r.close()), this.pool?.close(), ...this.evictions]).then(
      () => undefined,
    );
    return this.closing;
  }

  private podsOf(app: string): Map<string, PodRunner> {
    let pods = this.apps.get(app);
    if (!pods) this.apps.set(app, (pods = new Map()));
    return pods;
  }

  private runnerExtras() {
    return {
      ...(this.opts.backoffScale !== undefined ? { backoffScale: this.opts.backoffScale } : {}),
      ...(this.opts.log ? { log: this.opts.log } : {}),
      ...(this.opts.drainLogs ? { drainLogs: this.opts.drainLogs } : {}),
      ...(this.opts.startupCpuBoost ? { startupCpuBoost: this.opts.startupCpuBoost } : {}),
    };
  }

  private get log(): Log {
    return this.opts.log ?? silentLog;
  }

  private runner(
    pod: Pod,
    onEvent: (e: PodEvent) => void,
    secrets: PodSecrets = {},
    pendingImages?: ReadonlyMap<string, Promise<void>>,
  ): PodRunner {
    return new PodRunner({
      docker: this.opts.docker,
      pod,
      pauseImage: this.opts.pauseImage,
      onEvent,
      secrets,
      ...(pendingImages ? { pendingImages } : {}),
      ...this.runnerExtras(),
      ...(this.pool ? { netnsPool: this.pool } : {}),
    });
  }

  /** Deletes pods in parallel; every deletion runs to the end, then the first failure is thrown. */
  private async deletePods(app: string, runners: PodRunner[], gracePeriodSeconds?: number): Promise<void> {
    for (const r of runners) this.stopping.add(r);
    const results = await Promise.allSettled(
      runners.map((r) => r.delete(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds })),
    );
    for (const r of runners) {
      this.apps.get(app)?.delete(r.name);
      this.stopping.delete(r);
    }
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  }
}

/**
 * What a serving pod can take. HTTP needs the app's own containers ready (logic
 * sidecar, runtime) but not the platform sidecars: a crashed TLS terminator or
 * procinfo restarts on its own while plain HTTP keeps flowing. The pod's Ready
 * condition still reports them (kubelet-faithful); only routing looks past them.
 * HTTPS additionally needs the TLS sidecar started (listening).
 */
export function upstreamOf(runner: PodRunner): Upstream | undefined {
  const view = runner.status();
  if (view.phase !== 'Running') return undefined;
  const sidecars = view.initContainerStatuses.filter((s) => s.sidecar);
  const own = [...sidecars.filter((s) => !isPlatformSidecar(s.name)), ...view.containerStatuses];
  if (own.length === 0 || !own.every((s) => s.ready)) return undefined;
  const tls = sidecars.find((s) => s.name === PlatformSidecar.tls);
  return {
    pod: runner.name,
    address: runner.address(RUNTIME_PORT),
    ...(tls?.ready ? { tlsAddress: runner.address(TLS_PORT) } : {}),
  };
}

/** Why a pod started during the build will not serve its release, or undefined when it will. */
function unfitPrepared(entry: PreparedEntry, version: number, fingerprint: string): string | undefined {
  if (entry.fingerprint !== fingerprint) return 'no longer matches the app';
  const named = entry.runner.pod.metadata.labels?.[Labels.release];
  if (named !== String(version)) return `is named after v${named ?? '-'}, the release is v${version}`;
  if (entry.startFailed) return 'could not start';
  const view = entry.runner.status();
  const restarted = [...view.initContainerStatuses, ...view.containerStatuses].some((c) => c.restartCount > 0);
  if (view.phase === 'Failed' || restarted) return 'had a container fail';
  return undefined;
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
    const logs = (await r.logs('runtime', 10).catch((e: unknown) => `(logs unavailable: ${errorText(e)})`)).trim();
    const started = view.events.length > 0;
    parts.push(
      `pod ${r.name}: ${started ? problems.join(', ') || `not ready within ${timeoutMs} ms` : errorText(error)}` +
        (logs ? `; runtime logs:\n${logs}` : ''),
    );
  }
  return parts.join('\n') || errorText(error);
}
