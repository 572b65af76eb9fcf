export { CrashLoopBackoff, KUBELET_BACKOFF } from './backoff.js';
export {
  ContainerRole,
  DEFAULT_PIDS_LIMIT,
  PLATFORM_LABEL,
  POD_NETWORK,
  POD_SPEC_LABEL,
  TMP_TMPFS,
  containerCreateOptions,
  containerName,
  declaredPorts,
  networkCreateOptions,
  pauseCreateOptions,
  pauseName,
  podLabels,
  redactPod,
  volumeCreateOptions,
  volumeName,
  type ContainerOptionsInput,
} from './container-options.js';
export { DockerTarget, type DockerTargetOptions } from './docker-target.js';
export { InMemoryRouteTable } from './in-memory-route-table.js';
export { PodRunner, type AdoptOptions, type PodRunnerOptions } from './pod-runner.js';
export { removePodObjects } from './pod-sandbox.js';
