export { loadKubeConfig } from './kube-config.js';
export { apiStatusOf, kubeError, type ApiStatus } from './kube-errors.js';
export { ManagedKinds, type ManagedKind } from './kube-objects.js';
export {
  DEFAULT_FIELD_MANAGER,
  KubernetesTarget,
  type KubernetesTargetOptions,
  type LogsInput,
} from './kubernetes-target.js';
export { CHECKED_KINDS, checkManifest } from './manifest-check.js';
export { jobPodOutcome, podViewOf, type JobPodOutcome } from './pod-view.js';
export {
  PublishingImageBuilder,
  RegistryImagePublisher,
  splitRef,
  type ImagePublisher,
  type PublishedImage,
} from './registry.js';
export { RolloutPhase, rolloutState, type RolloutState } from './rollout-status.js';
export { watchUntil, type WatchUntilOptions } from './watch-until.js';
export { kubernetesWorkerParts, publishingBuilder, type KubernetesWorkerConfig } from './wiring.js';
