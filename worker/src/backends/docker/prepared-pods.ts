import type { LogSink, PreparedPod } from '@sidecar/core';
import type { PodRunner } from '@sidecar/kubelet';

/** A release's first pod, started while its logic image builds (Target.prepare). */
export interface PreparedEntry {
  app: string;
  runner: PodRunner;
  /** What a pod of its release is (podFingerprint): a rollout takes it only if it would start the same pod. */
  fingerprint: string;
  /** Where its events go: the build's log until a rollout takes it, then the rollout's. */
  sink: { log: LogSink | undefined };
  /** Settles the logic image's "pull" (PodRunnerOptions.pendingImages). */
  pull: { resolve: () => void; reject: (e: Error) => void };
  /** Its start failed (a container could not be created): a rollout starts a new pod instead. */
  startFailed: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * Prepared pods by deploy id, from their start until a rollout of their release takes one (take) or it is
 * discarded: its build failed or was cancelled, its deploy never rolled out (superseded, cancelled), its
 * app was removed, or nobody took it within `ttlMs` of its image existing. Kept apart from the app's
 * pods, so that no rollout of another release counts one as an old pod of the app.
 */
export class PreparedPods {
  private readonly byDeploy = new Map<string, PreparedEntry>();

  constructor(
    private readonly opts: {
      ttlMs: number;
      /** Deletes a discarded pod (after its pull failed with `reason`); in the background. */
      remove: (entry: PreparedEntry, reason: string) => void;
    },
  ) {}

  /** Registers a pod whose start has begun; the handle is the build's. */
  add(deployId: string, entry: PreparedEntry): PreparedPod {
    this.discard(deployId, 'replaced by a newer attempt of its build');
    this.byDeploy.set(deployId, entry);
    return {
      imageBuilt: () => {
        if (this.byDeploy.get(deployId) !== entry) return;
        entry.pull.resolve();
        entry.timer = setTimeout(() => this.discard(deployId, 'no rollout took it'), this.opts.ttlMs);
        entry.timer.unref();
      },
      discard: (reason) => {
        if (this.byDeploy.get(deployId) === entry) this.discard(deployId, reason);
      },
    };
  }

  /** Hands the deploy's pod over to a rollout (it is no longer this registry's). */
  take(deployId: string): PreparedEntry | undefined {
    const entry = this.byDeploy.get(deployId);
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    this.byDeploy.delete(deployId);
    return entry;
  }

  discard(deployId: string, reason: string): void {
    const entry = this.take(deployId);
    if (entry) this.drop(entry, reason);
  }

  /** Deletes a pod taken from the registry that will not serve. */
  drop(entry: PreparedEntry, reason: string): void {
    // A pod still waiting for its image stops waiting (its start fails), then goes; its deletion's
    // lines are not the deploy's (whose log may have ended).
    entry.sink.log = undefined;
    entry.pull.reject(new Error(reason));
    this.opts.remove(entry, reason);
  }

  /** Takes every pod of an app (its removal deletes them with its other pods), or of every app. */
  takeAll(app?: string): PreparedEntry[] {
    const ids = [...this.byDeploy].filter(([, e]) => app === undefined || e.app === app).map(([id]) => id);
    return ids.map((id) => this.take(id)!);
  }
}
