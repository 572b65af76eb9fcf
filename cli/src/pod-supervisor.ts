import type { Pod, PodPhase, PodView } from '@sidecar/core';
import { PodRunner } from '@sidecar/kubelet';
import type Docker from 'dockerode';
import { listenControl } from './control-socket.js';
import { cliEvent, type RunOutput } from './output.js';

/** Why and how a pod is deleted before it ends on its own. */
export interface Deletion {
  /** Reason of the event printed when the deletion starts (`Deleting`, `DeadlineExceeded`, ...). */
  reason: string;
  message: string;
  /** undefined: the pod's terminationGracePeriodSeconds (default 30). */
  gracePeriodSeconds: number | undefined;
  /** Remove containers and volumes afterwards (false with --keep, unless `pod delete` asked). */
  remove: boolean;
}

/** The abort reason of the process-wide stop signal (signals, --timeout, deadlines, `pod delete`). */
export class DeletionRequested extends Error {
  readonly deletion: Deletion;
  constructor(deletion: Deletion) {
    super(deletion.message);
    this.name = 'DeletionRequested';
    this.deletion = deletion;
  }
}

export interface SupervisePodOptions {
  docker: Docker;
  pod: Pod;
  pauseImage: string;
  backoffScale: number;
  runDir: string;
  output: RunOutput;
  keep: boolean;
  /** Process-wide; aborted with a DeletionRequested to delete the pod with those rules. */
  stop: AbortController;
  /** Called once the pod's sandbox and containers exist and its lifecycle has begun. */
  onStarted?: () => void;
  /** Checked on every status change; a Deletion returned deletes the pod (a Job's back-off limit). */
  deleteWhen?: (v: PodView) => Deletion | undefined;
}

export interface PodResult {
  status: PodView;
  /** The deletion that ended the pod before it completed on its own, if any. */
  deletedBy: Deletion | undefined;
}

/** setTimeout's maximum: "no deadline" for waitFor. */
const FOREVER_MS = 2 ** 31 - 1;
const DEFAULT_GRACE_SECONDS = 30;
const isTerminal = (p: PodPhase) => p === 'Succeeded' || p === 'Failed';

/**
 * Runs one pod to its end as its only supervisor: starts it, prints its events, serves its control
 * socket, and ends when the pod reached Succeeded/Failed and its sidecars were stopped (rule 11) or
 * when a deletion was requested (rules 12–18). Removes its containers and volumes unless kept.
 */
export async function supervisePod(opts: SupervisePodOptions): Promise<PodResult> {
  const { pod, output, stop } = opts;
  const runner = new PodRunner({
    docker: opts.docker,
    pod,
    pauseImage: opts.pauseImage,
    backoffScale: opts.backoffScale,
    onEvent: output.event,
  });
  const graceOf = (d: Deletion) =>
    d.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
  const requested = new AbortController(); // a deletion was requested
  const finished = new AbortController(); // supervision is over: background waiters end
  let first: Deletion | undefined;
  let deletedBy: Deletion | undefined;
  let removeRequested = false;
  let failure: unknown;
  const pending: Promise<void>[] = [];
  const track = (p: Promise<unknown>): Promise<void> => {
    // Awaited at the end; recorded here so that a rejection is never unhandled meanwhile.
    const settled = p.then(
      () => undefined,
      (e: unknown) => {
        failure ??= e;
      },
    );
    pending.push(settled);
    return settled;
  };

  const requestDeletion = (d: Deletion): Promise<void> => {
    if (!first) {
      first = d;
      if (!isTerminal(runner.status().phase)) deletedBy = d;
      output.event(cliEvent(d.reason, `${d.message}; deleting pod ${runner.name} (grace period ${graceOf(d)}s)`));
      requested.abort();
    }
    removeRequested ||= d.remove;
    // The runner keeps one termination: the first request's grace period holds (rule 13).
    const grace = { gracePeriodSeconds: graceOf(first) };
    return track(d.remove ? runner.delete(grace) : runner.stop(grace));
  };
  const onStop = () => {
    const reason: unknown = stop.signal.reason;
    if (reason instanceof DeletionRequested) void requestDeletion(reason.deletion);
  };

  const control = await listenControl({
    runDir: opts.runDir,
    pod: runner.name,
    handlers: {
      status: () => runner.status(),
      delete: async ({ gracePeriodSeconds }) => {
        const d: Deletion = {
          reason: 'Deleting',
          message: 'delete requested by `sidecar pod delete`',
          gracePeriodSeconds,
          remove: true,
        };
        stop.abort(new DeletionRequested(d)); // a Job stops too: a deleted pod is not retried
        await requestDeletion(d);
        if (failure) throw failure;
        return runner.status();
      },
    },
  });
  try {
    if (stop.signal.aborted) {
      // Asked to stop before anything was created (a signal during image preparation).
      const reason: unknown = stop.signal.reason;
      return { status: runner.status(), deletedBy: reason instanceof DeletionRequested ? reason.deletion : undefined };
    }
    stop.signal.addEventListener('abort', onStop, { once: true });
    try {
      await runner.start();
    } catch (e) {
      // Whatever was created goes; the start error is the one to report.
      await runner
        .delete({ gracePeriodSeconds: 0 })
        .catch((cleanup: unknown) => output.note(`cleanup after a failed start: ${String(cleanup)}`));
      throw e;
    }
    opts.onStarted?.();
    if (opts.deleteWhen) {
      const watching = watchForDeletion(runner, opts.deleteWhen, finished.signal, requestDeletion);
      // Not in `pending`: it only ends with supervision. Its failure still fails the run.
      watching.catch((e: unknown) => {
        failure ??= e;
      });
    }
    try {
      await runner.waitFor((v) => isTerminal(v.phase), { timeoutMs: FOREVER_MS, signal: requested.signal });
      // Rule 11: the mains are done; the runner stops the sidecars (reverse order). Wait for that.
      await runner.stop();
    } catch (e) {
      if (!requested.signal.aborted) throw e;
    }
    await Promise.all(pending);
    if (failure) throw failure;
    if (!opts.keep || removeRequested) await runner.delete();
    return { status: runner.status(), deletedBy };
  } finally {
    finished.abort();
    stop.signal.removeEventListener('abort', onStop);
    await runner.close();
    await control.close();
  }
}

function watchForDeletion(
  runner: PodRunner,
  deleteWhen: (v: PodView) => Deletion | undefined,
  signal: AbortSignal,
  requestDeletion: (d: Deletion) => Promise<void>,
): Promise<void> {
  return runner
    .waitFor((v) => deleteWhen(v) !== undefined, { timeoutMs: FOREVER_MS, signal })
    .then(
      (v) => void requestDeletion(deleteWhen(v)!),
      (e: unknown) => {
        if (!signal.aborted) throw e;
      },
    );
}
