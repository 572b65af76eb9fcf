/**
 * The subset of Kubernetes `v1` object shapes the platform renders and runs.
 * Field names and nesting follow the Kubernetes API exactly, so a rendered
 * object can be sent to a cluster as is and run by the Docker pod runner.
 */
export interface EnvVar {
  name: string;
  value?: string;
}
export interface ExecAction {
  command: string[];
}
export interface HTTPGetAction {
  path?: string;
  port: number | string;
  host?: string;
  scheme?: 'HTTP' | 'HTTPS';
}
export interface TCPSocketAction {
  port: number | string;
  host?: string;
}
export interface Probe {
  exec?: ExecAction;
  httpGet?: HTTPGetAction;
  tcpSocket?: TCPSocketAction;
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}
export interface LifecycleHandler {
  exec?: ExecAction;
  httpGet?: HTTPGetAction;
  sleep?: { seconds: number };
}
export interface Lifecycle {
  postStart?: LifecycleHandler;
  preStop?: LifecycleHandler;
}
export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}
export interface ContainerPort {
  containerPort: number;
  name?: string;
  protocol?: 'TCP';
}
export interface ResourceRequirements {
  limits?: { memory?: string; cpu?: string };
  requests?: { memory?: string; cpu?: string };
}
export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[] };
}
export const ContainerRestartPolicy = { Always: 'Always' } as const;
export type ContainerRestartPolicy = (typeof ContainerRestartPolicy)[keyof typeof ContainerRestartPolicy];

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  ports?: ContainerPort[];
  volumeMounts?: VolumeMount[];
  resources?: ResourceRequirements;
  restartPolicy?: string;
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: Lifecycle;
  securityContext?: SecurityContext;
}
/** A key of a Secret as a file of a secret volume. */
export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}
/** Files from a Secret (on Docker, the kubelet is handed the Secret's data: PodRunnerOptions.secrets). */
export interface SecretVolumeSource {
  secretName: string;
  /** The files' mode (Kubernetes default 0644); the files belong to root. */
  defaultMode?: number;
  items?: KeyToPath[];
}
export interface Volume {
  name: string;
  emptyDir?: { medium?: string; sizeLimit?: string };
  secret?: SecretVolumeSource;
}

export const PodRestartPolicy = { Always: 'Always', OnFailure: 'OnFailure', Never: 'Never' } as const;
export type PodRestartPolicy = (typeof PodRestartPolicy)[keyof typeof PodRestartPolicy];

export interface PodSpec {
  restartPolicy?: PodRestartPolicy;
  terminationGracePeriodSeconds?: number;
  volumes?: Volume[];
  initContainers?: Container[];
  containers: Container[];
  shareProcessNamespace?: boolean;
}
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta;
  spec: PodSpec;
}
