import type { ContainerStatus, PodCondition, PodEvent, PodPhase, PodRestartPolicy, PodView } from '@sidecar/core';
import { isReady, isStarted, type ContainerRecord } from './container-record.js';

/**
 * Pure: the runner's records → a Kubernetes-shaped PodView, after kubelet
 * `pkg/kubelet/status/generate.go` and `kubelet_pods.go` getPhase (rules 19–21).
 */
export interface PodStatusInput {
  name: string;
  release: number | null;
  restartPolicy: PodRestartPolicy;
  inits: readonly ContainerRecord[];
  mains: readonly ContainerRecord[];
  sandboxReady: boolean;
  /** Every init entry is done (init exited 0 / sidecar started), ever. */
  initDone: boolean;
  /** Set once the pod reached a terminal phase (mains finished, init failed under Never, or deleted). */
  outcome: 'Succeeded' | 'Failed' | null;
  events: readonly PodEvent[];
}

export function podView(input: PodStatusInput): PodView {
  const phase = podPhase(input);
  const initialized = isInitialized(input);
  const unready = [...input.inits.filter((c) => c.kind === 'sidecar'), ...input.mains]
    .filter((c) => !isReady(c))
    .map((c) => c.spec.name);
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const readyCondition = (type: string): PodCondition => {
    if (terminal) return { type, status: 'False', reason: 'PodCompleted' };
    if (unready.length > 0)
      return {
        type,
        status: 'False',
        reason: 'ContainersNotReady',
        message: `containers with unready status: [${unready.join(' ')}]`,
      };
    return { type, status: 'True' };
  };
  const incomplete = input.inits
    .filter((c) => (c.kind === 'init' ? !c.succeeded : !isStarted(c)))
    .map((c) => c.spec.name);
  const conditions: PodCondition[] = [
    input.sandboxReady
      ? { type: 'PodReadyToStartContainers', status: 'True' }
      : { type: 'PodReadyToStartContainers', status: 'False' },
    initialized
      ? { type: 'Initialized', status: 'True' }
      : {
          type: 'Initialized',
          status: 'False',
          reason: 'ContainersNotInitialized',
          message: `containers with incomplete status: [${incomplete.join(' ')}]`,
        },
    readyCondition('ContainersReady'),
    readyCondition('Ready'),
  ];
  return {
    name: input.name,
    release: input.release,
    phase,
    ready: conditions[3]!.status === 'True',
    conditions,
    initContainerStatuses: input.inits.map(containerStatus),
    containerStatuses: input.mains.map(containerStatus),
    events: [...input.events],
  };
}

/**
 * Kubernetes' lastTransitionTime: a condition keeps the time it had while its status stays the same,
 * and takes `now` when its status changes (or first appears).
 */
export function stampTransitions(
  previous: readonly PodCondition[],
  next: readonly PodCondition[],
  now: string,
): PodCondition[] {
  return next.map((c) => {
    const before = previous.find((p) => p.type === c.type);
    const since = before?.status === c.status ? before.lastTransitionTime : undefined;
    return { ...c, lastTransitionTime: since ?? now };
  });
}

/** Rule 20: every init done, or any main has started. */
export function isInitialized(input: Pick<PodStatusInput, 'initDone' | 'mains'>): boolean {
  return input.initDone || input.mains.some((m) => m.everRan);
}

/** Rule 21 and kubelet getPhase: decided by the mains only; sidecar restarts never make it Pending again. */
export function podPhase(input: PodStatusInput): PodPhase {
  if (input.outcome) return input.outcome;
  if (!isInitialized(input)) return 'Pending';
  let waiting = 0;
  let running = 0;
  let succeeded = 0;
  for (const m of input.mains) {
    if (m.phase === 'running') running++;
    else if (!m.everRan) waiting++;
    else if (m.exitCode === 0) succeeded++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (input.restartPolicy === 'Always') return 'Running';
  if (succeeded === input.mains.length) return 'Succeeded';
  return input.restartPolicy === 'Never' ? 'Failed' : 'Running';
}

function containerStatus(c: ContainerRecord): ContainerStatus {
  return {
    name: c.spec.name,
    image: c.spec.image,
    sidecar: c.kind === 'sidecar',
    // A regular init has no startup probe or hooks: started = running.
    started: isStarted(c),
    ready: isReady(c),
    restartCount: c.restartCount,
    state: containerState(c),
  };
}

function containerState(c: ContainerRecord): ContainerStatus['state'] {
  if (c.phase === 'running') return { running: { startedAt: c.startedAt ?? new Date(0).toISOString() } };
  if (c.phase === 'exited') {
    if (c.backoffUntilMs !== null) return { waiting: { reason: 'CrashLoopBackOff', message: c.backoffMessage ?? '' } };
    return {
      terminated: {
        exitCode: c.exitCode ?? 0,
        reason: c.terminatedReason ?? 'Error',
        startedAt: c.startedAt,
        finishedAt: c.finishedAt ?? new Date(0).toISOString(),
      },
    };
  }
  return { waiting: { reason: c.waitingReason } };
}
