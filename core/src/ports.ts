import type { App } from './app.js';
import type { BundleManifest } from './bundle-rules.js';
import type { PodView } from './pod-status.js';
import type { Release } from './release.js';

/** A line sink for build and deploy logs (the deploy log the user follows). */
export type LogSink = (line: string) => void;

export interface RolloutInput {
  app: App;
  release: Release;
  signal: AbortSignal;
  log: LogSink;
  /**
   * Called once the release serves (every new pod routed, no old pod routed), while old pods may
   * still be stopping: the caller may let the app's next rollout begin then. A target that cannot
   * tell this moment apart from the end of `apply` need not call it.
   */
  onServing?: () => Promise<void>;
}

/**
 * Where apps run. Declared here by its users (the deploy processor, the API's
 * pod views); the Docker and Kubernetes targets implement it.
 */
export interface Target {
  /** Rolls the app onto a release: new pods ready before old ones stop. Rejects, leaving the old pods serving, when the new ones never become ready. */
  apply(input: RolloutInput): Promise<void>;
  /** The app's pods, Kubernetes-shaped. */
  status(app: string): Promise<PodView[]>;
  /** Stops and removes every pod of the app (graceful) and its routes. */
  remove(app: string): Promise<void>;
  /** Resolves when the target's backend answers. */
  ping(): Promise<void>;
  /** Runs a one-off command against a release as a Job pod and waits until it has finished. */
  runJob(input: JobRunInput): Promise<JobRunResult>;
  /**
   * Stops supervising (watches, timers) without touching what runs, except pods started during builds
   * (prepare) that no rollout took: those are deleted. Safe twice.
   */
  close(): Promise<void>;
  /**
   * Scale to zero (docs/scale-to-zero.md), on targets that can: takes the app's serving pods out of
   * rotation (their connections drained up to `drainSeconds`) and suspends them. Returns the pods
   * suspended; none when there is nothing to suspend or a rollout of the app runs.
   */
  suspend?(app: string, opts: { drainSeconds: number }): Promise<string[]>;
  /** Brings an app's suspended pods back into rotation; false when the app was not suspended. */
  wake?(app: string): Promise<boolean>;
  /** Whether the app's pods are suspended now (the truth the app's `idle` status follows). */
  isSuspended?(app: string): boolean;
  /**
   * On targets that can: starts the first pod of a release whose logic image is still being built (the
   * containers before the logic sidecar start meanwhile, as a kubelet starts them during a later
   * container's image pull). apply() of that release takes it over when it is the pod it would start;
   * otherwise it is deleted. undefined when nothing was started (e.g. the app runs no replicas).
   */
  prepare?(input: PrepareInput): Promise<PreparedPod | undefined>;
  /** Deletes this deploy's prepared pod if apply() did not take it (the deploy was superseded or cancelled). */
  discardPrepared?(deployId: string): void;
}

export interface PrepareInput {
  app: App;
  /** The release being built: its version reserved, its image the name the build will give it. */
  release: Release;
  log: LogSink;
}

/** A release's first pod, started during its build (Target.prepare). */
export interface PreparedPod {
  /** The logic image exists now: the logic sidecar is created and the pod's start goes on. */
  imageBuilt(): void;
  /** The build failed or was cancelled: the pod is deleted (in the background). */
  discard(reason: string): void;
}

export interface JobRunInput {
  app: App;
  release: Release;
  jobId: string;
  command: string[];
  env: Record<string, string>;
  signal: AbortSignal;
  /** Called once the command's container has started. */
  onStarted?: () => void;
}
export interface JobRunResult {
  exitCode: number | null;
  output: string;
  reason: string | null;
}

export interface BuildInput {
  app: string;
  deployId: string;
  /** A directory holding the extracted, dependency-complete bundle. */
  bundleDir: string;
  manifest: BundleManifest;
  signal: AbortSignal;
  log: LogSink;
}
export interface BuiltImage {
  image: string;
  digest: string;
}

/** Turns a prepared bundle into a logic sidecar image. */
export interface ImageBuilder {
  build(input: BuildInput): Promise<BuiltImage>;
  /** The image build() will return for this deploy, where it is known before the build (a pod can be started meanwhile). */
  plannedImage?(app: string, deployId: string): string;
}

/** One ready pod the router may send an app's traffic to. */
export interface Upstream {
  pod: string;
  /** `host:port` of the runtime's HTTP port (8080), reachable from the router's host. */
  address: string;
  /** `host:port` of the TLS sidecar's port (8443), when the pod has one and it is running; the router passes TLS through to it. */
  tlsAddress?: string;
}

/**
 * The single-host router's table, written by the Docker target. `set` resolves
 * once running routers have applied the change (bounded wait), so a caller may
 * stop the pods it just took out of rotation.
 */
export interface RouteTable {
  set(app: string, upstreams: Upstream[]): Promise<void>;
  /**
   * Makes an app that has no routes known to the routers, with no pod in rotation (they answer 503
   * no_ready_pod for it, not 404): a router adds a new app's backend with a reload (0.05–0.3 s), which then
   * happens when the app is created (the API) or while its first deploy builds (the worker), not after its first
   * pod is Ready. An app with routes keeps them. Does not wait for the routers.
   */
  declare(app: string): Promise<void>;
  get(app: string): Promise<Upstream[]>;
  remove(app: string): Promise<void>;
  /** Resolves once routers hold no connection to these pods (they left rotation), or after `limitMs`. */
  waitForDrain(pods: readonly string[], limitMs: number): Promise<void>;
}
