import type { Container } from '@sidecar/core';
import type { BackoffEntry } from './backoff.js';
import type { ObservedContainer } from './pod-planner.js';

/** What the runner knows about one container of a pod; mutated only by the runner. */
export type ContainerKind = 'init' | 'sidecar' | 'main';

export interface ContainerRecord {
  readonly spec: Container;
  readonly kind: ContainerKind;
  /** Index within its list (`initContainers` or `containers`). */
  readonly index: number;
  /** Docker container id (created by `start()`, all at once; '' until then). */
  id: string;
  /**
   * Settles when the container exists (`id` set); a start waits for it. Rejects when its creation failed,
   * which fails `start()` too. Resolved from the outset for an adopted pod.
   */
  created: Promise<void>;
  /** The image's STOPSIGNAL, sent at termination instead of SIGTERM when set (rule 15). */
  stopSignal: string;
  phase: 'waiting' | 'running' | 'exited';
  /** Shown while `phase` is waiting and never ran: PodInitializing, ContainerCreating. */
  waitingReason: string;
  /** Bumped on every start; late results of an older run are ignored. */
  generation: number;
  /** Aborted when the current run ends: stops its probes and its postStart hook. */
  run?: AbortController;
  /** A `docker start` (plus postStart) is in flight. */
  starting: boolean;
  /** The `docker start` call itself is in flight (termination orders the container as running). */
  startInFlight: boolean;
  restartCount: number;
  everRan: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  exitedAtMs: number | null;
  exitCode: number | null;
  terminatedReason: string | null;
  startupPassed: boolean;
  postStartDone: boolean;
  readinessPassed: boolean;
  /** A regular init container that exited 0 is done for good (rule 1). */
  succeeded: boolean;
  /** Pending CrashLoopBackOff restart: when it is due, and the timer that wakes the runner then. */
  backoffUntilMs: number | null;
  backoffTimer?: NodeJS.Timeout;
  backoffMessage?: string;
}

export function newRecord(spec: Container, kind: ContainerKind, index: number): ContainerRecord {
  return {
    spec,
    kind,
    index,
    id: '',
    created: Promise.resolve(),
    stopSignal: 'SIGTERM',
    phase: 'waiting',
    waitingReason: 'PodInitializing',
    generation: 0,
    starting: false,
    startInFlight: false,
    restartCount: 0,
    everRan: false,
    startedAt: null,
    finishedAt: null,
    exitedAtMs: null,
    exitCode: null,
    terminatedReason: null,
    startupPassed: false,
    postStartDone: false,
    readinessPassed: false,
    succeeded: false,
    backoffUntilMs: null,
  };
}

/** Rule 2: running, startup probe passed (or none), postStart returned (or none). */
export const isStarted = (c: ContainerRecord): boolean => c.phase === 'running' && c.startupPassed && c.postStartDone;

/** Rule 19: an init is ready once it exited 0; a sidecar or main when started and readiness passed (or no probe). */
export function isReady(c: ContainerRecord): boolean {
  if (c.kind === 'init') return c.succeeded;
  return isStarted(c) && (c.readinessPassed || !c.spec.readinessProbe);
}

/** The plain data the planner decides on (pod-planner.ts). */
export function observe(c: ContainerRecord, backoff: BackoffEntry | undefined): ObservedContainer {
  return {
    name: c.spec.name,
    kind: c.kind,
    index: c.index,
    phase: c.phase,
    starting: c.starting,
    startInFlight: c.startInFlight,
    everRan: c.everRan,
    started: isStarted(c),
    succeeded: c.succeeded,
    exitCode: c.exitCode,
    exitedAtMs: c.exitedAtMs,
    backoffUntilMs: c.backoffUntilMs,
    backoff,
  };
}
