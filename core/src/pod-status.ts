/** Pod status as the API reports it (API.md "Shapes"), after Kubernetes v1.PodStatus. */
export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export interface ContainerState {
  waiting?: { reason: string; message?: string };
  running?: { startedAt: string };
  terminated?: { exitCode: number; reason: string; startedAt: string | null; finishedAt: string };
}
export interface ContainerStatus {
  name: string;
  image: string;
  sidecar: boolean;
  started: boolean;
  ready: boolean;
  restartCount: number;
  state: ContainerState;
}
export interface PodCondition {
  type: string;
  status: 'True' | 'False';
  reason?: string;
  message?: string;
  /** When the status last changed (Kubernetes' lastTransitionTime). */
  lastTransitionTime?: string;
}
export interface PodEvent {
  time: string;
  container: string;
  reason: string;
  message: string;
}
/**
 * Why a pod's containers are frozen (cgroup freezer): `warm`, the previous release kept for an
 * instant rollback; `idle`, an app scaled to zero that wakes on its next request.
 */
export const SuspendReason = { warm: 'warm', idle: 'idle' } as const;
export type SuspendReason = (typeof SuspendReason)[keyof typeof SuspendReason];

/** A frozen pod: since when, why, what it keeps (resident memory), and until when a warm one is kept. */
export interface PodSuspension {
  reason: SuspendReason;
  since: string;
  /** Resident memory of its containers, measured once frozen (null until measured). */
  memoryBytes: number | null;
  /** A warm pod is stopped then, unless a rollback brings it back first. */
  until?: string;
}

export interface PodView {
  name: string;
  release: number | null;
  /** Set while the pod is frozen (Docker target: warm previous release, idle app). */
  suspended?: PodSuspension;
  phase: PodPhase;
  ready: boolean;
  conditions: PodCondition[];
  initContainerStatuses: ContainerStatus[];
  containerStatuses: ContainerStatus[];
  events: PodEvent[];
}
