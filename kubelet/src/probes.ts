import { errorText } from '@sidecar/core';
import { setTimeout as delay } from 'node:timers/promises';
import type { Probe } from '@sidecar/core';
import { runAction, type ActionResult, type ActionTarget } from './handlers.js';

export type ProbeKind = 'startup' | 'readiness' | 'liveness';

/** Kubernetes defaults for unset probe fields. Probe timings are never scaled (only back-off is). */
export const PROBE_DEFAULTS = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
} as const;

export interface ProbeLoopOptions {
  kind: ProbeKind;
  probe: Probe;
  target: ActionTarget;
  /** When the container's current run started (initialDelaySeconds counts from here). */
  startedAtMs: number;
  /** Ends the loop: the run is over, the pod terminates, or the runner closes. */
  signal: AbortSignal;
  /** Every failed attempt (the kubelet records an `Unhealthy` event for each). */
  onFailedAttempt: (message: string) => void;
  /** The result changed after crossing successThreshold / failureThreshold. */
  onResult: (success: boolean) => void;
  /**
   * Startup and readiness: until the first success, look for it every `warmupMs` between the
   * period attempts (a deliberate difference from the kubelet, see README: a new pod starts and
   * takes traffic as soon as it can, instead of up to one period later).
   */
  warmupMs?: number;
  /**
   * Readiness only: the result already in force (a container thawed after a freeze keeps the
   * readiness it had). Default false, the kubelet's initial state; a later failure is reported
   * only when it differs from this.
   */
  initiallyReady?: boolean;
  /**
   * Ends the loop between attempts, letting an attempt under way run to its end (bounded by its
   * timeout). The runner aborts it before freezing a pod: an exec caught half-started by the cgroup
   * freezer blocks the engine's unpause of that container for good.
   */
  holdSignal?: AbortSignal;
}

/**
 * One probe worker, after kubelet `pkg/kubelet/prober/worker.go`: a probe every
 * periodSeconds once initialDelaySeconds have passed; the result flips only after
 * successThreshold / failureThreshold consecutive equal results. Readiness starts
 * as failed and keeps probing; startup stops at its first success; startup and
 * liveness stop at failure (the runner kills the container, rule 8).
 *
 * Early success (startup and readiness, until their first success): between two
 * period attempts, extra attempts every `warmupMs` look for success sooner. They
 * are not counted and not reported when they fail, so failureThreshold × period
 * keeps exactly its kubelet meaning; an early success counts as a regular attempt.
 */
export async function runProbeLoop(o: ProbeLoopOptions): Promise<void> {
  const p = { ...PROBE_DEFAULTS, ...o.probe };
  const periodMs = p.periodSeconds * 1000;
  const timeoutMs = p.timeoutSeconds * 1000;
  let reported: boolean | undefined =
    o.kind === 'readiness' ? (o.initiallyReady ?? false) : o.kind === 'liveness' ? true : undefined;
  let last: boolean | undefined;
  let run = 0;
  let due = Math.max(Date.now(), o.startedAtMs + p.initialDelaySeconds * 1000);
  let succeededOnce = false;
  const warmupMs = o.kind !== 'liveness' && o.warmupMs !== undefined && o.warmupMs < periodMs ? o.warmupMs : undefined;
  // Between attempts the loop ends on either signal; an attempt itself only on `signal`.
  const between = o.holdSignal ? AbortSignal.any([o.signal, o.holdSignal]) : o.signal;
  while (!between.aborted) {
    const wait = due - Date.now();
    if (wait > 0 && !(await sleep(wait, between))) return;
    let result = await attempt(o, timeoutMs);
    if (between.aborted) return;
    if (!result.ok) o.onFailedAttempt(result.message);
    let nextDue = Math.max(due + periodMs, Date.now());
    if (!result.ok && !succeededOnce && warmupMs !== undefined) {
      const early = await earlySuccess(o, { until: nextDue, everyMs: warmupMs, timeoutMs, between });
      if (between.aborted) return;
      if (early) {
        result = early;
        // The period grid restarts at the early success.
        nextDue = Date.now() + periodMs;
      }
    }
    succeededOnce ||= result.ok;
    run = last === result.ok ? run + 1 : 1;
    last = result.ok;
    const threshold = result.ok ? p.successThreshold : p.failureThreshold;
    if (run >= threshold && reported !== result.ok) {
      reported = result.ok;
      o.onResult(result.ok);
    }
    if (o.kind === 'startup' && result.ok && run >= threshold) return;
    if (o.kind !== 'readiness' && !result.ok && run >= threshold) return;
    due = nextDue;
  }
}

/** Uncounted attempts every `everyMs` until shortly before `until`; the first success, if any. */
async function earlySuccess(
  o: ProbeLoopOptions,
  w: { until: number; everyMs: number; timeoutMs: number; between: AbortSignal },
): Promise<ActionResult | undefined> {
  while (Date.now() + w.everyMs < w.until) {
    if (!(await sleep(w.everyMs, w.between))) return undefined;
    const r = await attempt(o, Math.min(w.timeoutMs, Math.max(1, w.until - Date.now())));
    if (w.between.aborted) return undefined;
    if (r.ok) return r;
  }
  return undefined;
}

async function attempt(o: ProbeLoopOptions, timeoutMs: number): Promise<ActionResult> {
  try {
    return await runAction(o.target, o.probe, { timeoutMs, signal: o.signal });
  } catch (e) {
    // A Docker error (e.g. exec into a container that just exited) is a failed attempt, as in the kubelet.
    return { ok: false, message: errorText(e) };
  }
}

/** Resolves true after `ms`, false if aborted first. */
async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch (e) {
    if (signal.aborted) return false;
    throw e;
  }
}
