import {
  Labels,
  type ContainerState,
  type ContainerStatus,
  type PodEvent,
  type PodPhase,
  type PodView,
} from '@sidecar/core';

/**
 * A cluster's `v1.Pod` and its events → the API's Pod shape (API.md "Shapes"), the
 * same shape the Docker target reports. Pure. Accepts both the typed client's objects
 * (timestamps as Date) and raw watch objects (timestamps as strings).
 */
type Time = Date | string | undefined | null;
interface StateLike {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: Time };
  terminated?: { exitCode: number; reason?: string; startedAt?: Time; finishedAt?: Time };
}
interface StatusLike {
  name: string;
  image: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state?: StateLike;
}
export interface PodLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { initContainers?: { name: string; restartPolicy?: string }[] };
  status?: {
    phase?: string;
    conditions?: {
      type: string;
      status: string;
      reason?: string;
      message?: string;
      lastTransitionTime?: string | Date;
    }[];
    initContainerStatuses?: StatusLike[];
    containerStatuses?: StatusLike[];
  };
}
export interface EventLike {
  involvedObject: { name?: string; fieldPath?: string };
  reason?: string;
  message?: string;
  lastTimestamp?: Time;
  eventTime?: Time;
  firstTimestamp?: Time;
  metadata?: { creationTimestamp?: Time };
}

const PHASES: readonly PodPhase[] = ['Pending', 'Running', 'Succeeded', 'Failed'];
export const iso = (t: Time): string | null =>
  t === undefined || t === null ? null : t instanceof Date ? t.toISOString() : new Date(t).toISOString();

function state(s: StateLike | undefined): ContainerState {
  if (s?.terminated) {
    const t = s.terminated;
    return {
      terminated: {
        exitCode: t.exitCode,
        reason: t.reason ?? (t.exitCode === 0 ? 'Completed' : 'Error'),
        startedAt: iso(t.startedAt),
        finishedAt: iso(t.finishedAt) ?? '',
      },
    };
  }
  if (s?.running) return { running: { startedAt: iso(s.running.startedAt) ?? '' } };
  return {
    waiting: {
      reason: s?.waiting?.reason ?? 'ContainerCreating',
      ...(s?.waiting?.message ? { message: s.waiting.message } : {}),
    },
  };
}

function statuses(list: StatusLike[] | undefined, sidecars: ReadonlySet<string>): ContainerStatus[] {
  return (list ?? []).map((c) => ({
    name: c.name,
    image: c.image,
    sidecar: sidecars.has(c.name),
    started: c.started ?? false,
    ready: c.ready,
    restartCount: c.restartCount,
    state: state(c.state),
  }));
}

/** `spec.containers{runtime}` / `spec.initContainers{app}` → the container's name. */
export const containerOfFieldPath = (fieldPath: string | undefined) => /\{([^}]+)\}$/.exec(fieldPath ?? '')?.[1] ?? '';

export function podViewOf(pod: PodLike, events: readonly EventLike[]): PodView {
  const name = pod.metadata?.name ?? '';
  const release = Number(pod.metadata?.labels?.[Labels.release]);
  const sidecars = new Set(
    (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name),
  );
  const conditions = (pod.status?.conditions ?? []).map((c) => ({
    type: c.type,
    status: c.status === 'True' ? ('True' as const) : ('False' as const),
    ...(c.reason ? { reason: c.reason } : {}),
    ...(c.message ? { message: c.message } : {}),
    ...(c.lastTransitionTime ? { lastTransitionTime: new Date(c.lastTransitionTime).toISOString() } : {}),
  }));
  const phase = PHASES.find((p) => p === pod.status?.phase) ?? 'Pending'; // "Unknown" (node lost) reads as not running
  const own: PodEvent[] = events
    .filter((e) => e.involvedObject.name === name)
    .map((e) => ({
      time: iso(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp) ?? '',
      container: containerOfFieldPath(e.involvedObject.fieldPath),
      reason: e.reason ?? '',
      message: e.message ?? '',
    }))
    .sort((a, b) => a.time.localeCompare(b.time));
  return {
    name,
    release: Number.isInteger(release) ? release : null,
    phase,
    ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    conditions,
    initContainerStatuses: statuses(pod.status?.initContainerStatuses, sidecars),
    containerStatuses: statuses(pod.status?.containerStatuses, sidecars),
    events: own,
  };
}

/** Waiting reasons after which a container will not start without someone changing something. */
const STUCK = new Set([
  'ImagePullBackOff',
  'ErrImageNeverPull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
]);

export interface JobPodOutcome {
  started: boolean;
  finished: boolean;
  exitCode: number | null;
  reason: string | null;
}

/** Where a Job's pod stands: the main (`runtime`) ran or ended, or a container is stuck. */
export function jobPodOutcome(pod: PodLike, main = 'runtime'): JobPodOutcome {
  const all = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const m = pod.status?.containerStatuses?.find((c) => c.name === main);
  const t = m?.state?.terminated;
  if (t)
    return {
      started: true,
      finished: true,
      exitCode: t.exitCode,
      reason: t.exitCode === 0 ? null : (t.reason ?? null),
    };
  const stuck = all.find((c) => c.state?.waiting?.reason && STUCK.has(c.state.waiting.reason));
  if (stuck) {
    const w = stuck.state!.waiting!;
    return {
      started: false,
      finished: true,
      exitCode: null,
      reason: `${stuck.name}: ${w.reason}${w.message ? `: ${w.message}` : ''}`,
    };
  }
  if (pod.status?.phase === 'Failed')
    return {
      started: Boolean(m?.state?.running),
      finished: true,
      exitCode: null,
      reason: 'the job pod failed before its command exited',
    };
  return { started: Boolean(m?.state?.running), finished: false, exitCode: null, reason: null };
}
