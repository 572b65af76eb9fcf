import type { PodRestartPolicy } from '@sidecar/core';
import { backoffStep, type BackoffEntry, type BackoffLimits } from './backoff.js';
import type { ContainerKind } from './container-record.js';

/**
 * The pod's rules as pure functions, after kubelet `kuberuntime_manager.go` computePodActions and
 * `kuberuntime_termination_order.go` (docs NATIVE-SIDECARS.md; rule numbers cited inline). Given
 * what the runner observed (plain data) and the time, they return what to do; `PodRunner` executes
 * the actions on Docker and asks again after every change. Nothing here does I/O or keeps state.
 */

/** One container as the runner observed it: a plain snapshot of its ContainerRecord. */
export interface ObservedContainer {
  readonly name: string;
  readonly kind: ContainerKind;
  /** Index within its list (`initContainers` or `containers`). */
  readonly index: number;
  readonly phase: 'waiting' | 'running' | 'exited';
  /** A start is in flight: `docker start`, then its postStart hook. */
  readonly starting: boolean;
  /** The `docker start` itself is in flight (the container may be running any moment). */
  readonly startInFlight: boolean;
  readonly everRan: boolean;
  /** Rule 2: running, startup probe passed (or none), postStart returned (or none). */
  readonly started: boolean;
  /** A regular init that exited 0 (done for good, rule 1). */
  readonly succeeded: boolean;
  readonly exitCode: number | null;
  readonly exitedAtMs: number | null;
  /** Until when it waits in CrashLoopBackOff; null when not waiting. */
  readonly backoffUntilMs: number | null;
  /** Its crash-loop back-off entry (rule 7); undefined before its first restart. */
  readonly backoff: BackoffEntry | undefined;
}

export interface PodSnapshot {
  readonly restartPolicy: PodRestartPolicy;
  readonly inits: readonly ObservedContainer[];
  readonly mains: readonly ObservedContainer[];
  /** Index of the next init entry to complete (rule 1). */
  readonly initCursor: number;
  /** The sandbox exists and every container is created: nothing can start before. */
  readonly sandboxReady: boolean;
  /**
   * The sandbox was re-created (it had died): the kubelet purges the init containers with the old one,
   * so every init entry runs again from the first and the mains wait for them, although they ran before.
   */
  readonly sandboxRecreated?: boolean;
  /** Pod termination has begun (deleted, or finished). */
  readonly terminating: boolean;
  readonly backoffLimits: BackoffLimits;
  readonly nowMs: number;
}

export type PodAction =
  /** Start a container that never ran. */
  | { readonly type: 'start'; readonly container: string }
  /** Start an exited container again now; `backoff` is its entry armed for the next exit (rule 7). */
  | { readonly type: 'restart'; readonly container: string; readonly backoff: BackoffEntry }
  /** Leave an exited container in CrashLoopBackOff until `untilMs` (`delayMs`: the delay armed, for messages). */
  | { readonly type: 'backoff'; readonly container: string; readonly untilMs: number; readonly delayMs: number }
  /** The pod reached a terminal phase: record it and terminate what still runs (rules 9, 11). */
  | { readonly type: 'finish'; readonly phase: 'Succeeded' | 'Failed' };

export interface PodPlan {
  /** The init cursor after this sync (it only moves forward). */
  readonly initCursor: number;
  readonly actions: readonly PodAction[];
}

/** Rule 10: whether an exited main is restarted under the pod's restartPolicy. */
export function mainRestarts(policy: PodRestartPolicy, exitCode: number | null): boolean {
  if (policy === 'Always') return true;
  return policy === 'OnFailure' && exitCode !== 0;
}

/** Busy: being started or waiting out a back-off; the planner leaves it alone until that ends. */
const busy = (c: ObservedContainer): boolean => c.starting || c.backoffUntilMs !== null;

/** The kubelet's SyncPod decision: what to start, restart or finish now. */
export function planPod(s: PodSnapshot): PodPlan {
  let cursor = s.initCursor;
  const plan = (actions: PodAction[]): PodPlan => ({ initCursor: cursor, actions });
  // Rule 12: during termination nothing starts or restarts.
  if (!s.sandboxReady || s.terminating) return plan([]);
  // Rule 11: every main has terminated and none will restart → the pod is done; phase from the mains only.
  if (s.mains.every((m) => m.phase === 'exited' && !busy(m) && !mainRestarts(s.restartPolicy, m.exitCode))) {
    return plan([{ type: 'finish', phase: s.mains.every((m) => m.exitCode === 0) ? 'Succeeded' : 'Failed' }]);
  }
  const actions: PodAction[] = [];
  // Rules 1, 2, 8, 9: init entries strictly in spec order.
  while (cursor < s.inits.length) {
    const c = s.inits[cursor]!;
    if (busy(c)) break;
    if (c.kind === 'sidecar') {
      // Rule 1: a sidecar only has to be started (rule 2); rule 3: readiness never gates.
      if (c.started) {
        cursor++;
        continue;
      }
      if (c.phase === 'waiting') actions.push({ type: 'start', container: c.name });
      else if (c.phase === 'exited') actions.push(restart(c, s)); // rule 8: restarted, later entries wait
      break;
    }
    if (c.succeeded) {
      cursor++;
      continue;
    }
    if (c.phase === 'waiting') actions.push({ type: 'start', container: c.name });
    else if (c.phase === 'exited') {
      if (s.restartPolicy === 'Never') return plan([{ type: 'finish', phase: 'Failed' }]); // rule 9
      actions.push(restart(c, s)); // rule 9: OnFailure / Always retry the init
    }
    break;
  }
  // Rules 5, 6: a started sidecar keeps running beside what follows and is restarted whatever the policy.
  for (const c of s.inits.slice(0, cursor)) {
    if (c.kind === 'sidecar' && c.phase === 'exited' && !busy(c)) actions.push(restart(c, s));
  }
  // Rule 4: mains only once initialization is done (or, after adoption, once any main ran; not in a re-created sandbox).
  if (cursor < s.inits.length && (s.sandboxRecreated === true || !s.mains.some((m) => m.everRan))) return plan(actions);
  let earlierStarting = false;
  for (const m of s.mains) {
    if (m.starting) earlierStarting = true;
    if (busy(m)) continue;
    if (m.phase === 'waiting') {
      // Mains start one after another in spec order, each after the previous one's postStart.
      if (!earlierStarting) actions.push({ type: 'start', container: m.name });
      break;
    }
    if (m.phase === 'exited' && mainRestarts(s.restartPolicy, m.exitCode)) actions.push(restart(m, s)); // rule 10
  }
  return plan(actions);
}

/** Rule 7: restart now, or wait in CrashLoopBackOff. */
function restart(c: ObservedContainer, s: PodSnapshot): PodAction {
  const step = backoffStep(c.backoff, { exitedAt: c.exitedAtMs ?? s.nowMs, now: s.nowMs, limits: s.backoffLimits });
  if (step.waitMs === 0) return { type: 'restart', container: c.name, backoff: step.entry };
  return { type: 'backoff', container: c.name, untilMs: s.nowMs + step.waitMs, delayMs: step.entry.delayMs };
}

// ---- termination (rules 12–18) ---------------------------------------------------------------------

/** kubelet `minimumGracePeriodInSeconds`: the least time between the stop signal and SIGKILL (rule 17). */
export const MIN_GRACE_MS = 2000;
/** How long termination waits for a container to go after its SIGKILL before it gives up on it. */
export const KILL_WAIT_MS = 10_000;

/**
 * Rules 13 and 18: who takes part in a termination beginning now: every container that runs, and
 * one whose `docker start` is in flight (it will run in a moment, so it is ordered as running).
 * Containers that are not running (waiting, exited, in back-off) block no one.
 */
export function terminationMembers(containers: readonly ObservedContainer[]): string[] {
  return containers.filter((c) => c.phase === 'running' || c.startInFlight).map((c) => c.name);
}

/** One member of a termination as observed: its container plus how far its termination got. */
export interface TerminatingContainer {
  readonly name: string;
  readonly kind: ContainerKind;
  readonly index: number;
  readonly phase: 'waiting' | 'running' | 'exited';
  readonly startInFlight: boolean;
  readonly hasPreStop: boolean;
  readonly preStop: 'notBegun' | 'running' | 'done';
  /** A signal request to Docker is in flight. */
  readonly signalling: boolean;
  /** When Docker accepted its stop signal; null before. */
  readonly stopSentAtMs: number | null;
  /** When Docker accepted its SIGKILL; null before. */
  readonly killSentAtMs: number | null;
}

export interface TerminationSnapshot {
  readonly members: readonly TerminatingContainer[];
  /** t0 + the grace period (rule 13). */
  readonly deadlineMs: number;
  readonly nowMs: number;
}

export type TerminationAction =
  /** Rule 14: run its preStop hook now, bounded by what is left of the budget. */
  | { readonly type: 'preStop'; readonly container: string; readonly timeoutMs: number }
  /** Rules 15–17: send the image's stop signal (`stop`) or SIGKILL. */
  | { readonly type: 'kill'; readonly container: string; readonly signal: 'stop' | 'SIGKILL' };

export interface TerminationPlan {
  readonly actions: readonly TerminationAction[];
  /** When to ask again if nothing changes before (a deadline or a kill time); null: only on a change. */
  readonly wakeAtMs: number | null;
  /** Every member has gone (or was given up on after its SIGKILL): termination is over. */
  readonly done: boolean;
}

/** Still to be waited for: running, or about to (its start is in flight). */
const alive = (m: TerminatingContainer): boolean => m.phase === 'running' || m.startInFlight;

/** The kubelet's killContainersWithSyncResult with its termination ordering, one step. */
export function planTermination(s: TerminationSnapshot): TerminationPlan {
  const { deadlineMs: deadline, nowMs: now } = s;
  const actions: TerminationAction[] = [];
  const wakes: number[] = [];
  for (const m of s.members) {
    // A start in flight is waited for; one that is not running (any more) needs nothing.
    if (m.startInFlight || m.phase !== 'running' || m.signalling) continue;
    if (m.stopSentAtMs === null) {
      // Rule 14: every preStop starts at t0 (or as soon as its container runs), bounded by the budget.
      if (m.hasPreStop && m.preStop === 'notBegun' && deadline > now) {
        actions.push({ type: 'preStop', container: m.name, timeoutMs: deadline - now });
        continue;
      }
      if (m.preStop === 'running') continue;
      // Rule 16: a sidecar waits for every main and every later-declared sidecar (rule 18: that takes part),
      // until the budget runs out.
      const waitsFor = s.members.filter(
        (o) => m.kind === 'sidecar' && (o.kind === 'main' || (o.kind === 'sidecar' && o.index > m.index)),
      );
      if (waitsFor.some(alive) && now < deadline) {
        wakes.push(deadline);
        continue;
      }
      // Rule 15: the stop signal (SIGTERM or the image's STOPSIGNAL).
      actions.push({ type: 'kill', container: m.name, signal: 'stop' });
      continue;
    }
    // Rule 17: SIGKILL when the budget runs out, but never sooner than 2 s after the stop signal.
    const killAt = Math.max(deadline, m.stopSentAtMs + MIN_GRACE_MS);
    if (m.killSentAtMs !== null) {
      if (now < m.killSentAtMs + KILL_WAIT_MS) wakes.push(m.killSentAtMs + KILL_WAIT_MS); // else given up on
    } else if (now >= killAt) actions.push({ type: 'kill', container: m.name, signal: 'SIGKILL' });
    else wakes.push(killAt);
  }
  const done = s.members.every((m) => !alive(m) || (m.killSentAtMs !== null && now >= m.killSentAtMs + KILL_WAIT_MS));
  return { actions, wakeAtMs: done || wakes.length === 0 ? null : Math.min(...wakes), done };
}
