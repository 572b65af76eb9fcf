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
}
export interface PodEvent {
  time: string;
  container: string;
  reason: string;
  message: string;
}
export interface PodView {
  name: string;
  release: number | null;
  phase: PodPhase;
  ready: boolean;
  conditions: PodCondition[];
  initContainerStatuses: ContainerStatus[];
  containerStatuses: ContainerStatus[];
  events: PodEvent[];
}
