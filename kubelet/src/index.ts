export { CrashLoopBackoff, KUBELET_BACKOFF } from './backoff.js';
export {
  ContainerRole,
  DEFAULT_PIDS_LIMIT,
  NETNS_HOLDER_LABEL,
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
export { NetnsPool, type NetnsPoolOptions } from './netns-pool.js';
export { evictPod } from './pod-eviction.js';
export { PodRunner, type AdoptOptions, type DrainLogs, type PodRunnerOptions } from './pod-runner.js';
export { isNotFound, listPodContainers, removePodObjects } from './pod-sandbox.js';
export { type StartupCpuBoost } from './startup-cpu-boost.js';
