import type { KubernetesSettings } from './k8s-manifests.js';
import type { PlatformSidecarImages } from './platform-sidecars.js';
import type { TemplateSettings } from './pod-template.js';

/**
 * What the worker's backend applies, published by the worker at start: the API renders
 * `/manifests` and records new releases with exactly these, never with settings of its own.
 */
export interface BackendSettings {
  target: 'docker' | 'kubernetes';
  /** The runtime image new releases use, as pods reference it (on Kubernetes, a registry digest). */
  runtimeImage: string;
  /** The local image id of the runtime (a release records it; a runtime upgrade compares it). */
  runtimeImageDigest: string;
  /** The platform sidecars' images as pods reference them. */
  sidecarImages: PlatformSidecarImages;
  template: TemplateSettings;
  /** Only on the Kubernetes target: namespace, Ingress, registry and progress deadline. */
  kubernetes?: Omit<KubernetesSettings, 'sidecarImages' | 'template'>;
}

/**
 * What `/manifests?target=kubernetes` previews with while the platform runs on the Docker target (a
 * worker on the Kubernetes target publishes the settings it applies, and those are used instead).
 */
export const PREVIEW_KUBERNETES_SETTINGS: KubernetesSettings = {
  namespace: 'sidecar-apps',
  platformId: 'default',
  ingressClassName: 'nginx',
  hostPattern: '{app}.apps.example.com',
};

/**
 * The settings Kubernetes manifests are rendered with: the Kubernetes target builds its own from its
 * BackendSettings with this function, and the API renders `/manifests` with it from the published
 * record, so both always agree. Without a Kubernetes part (the Docker target), a preview.
 */
export function kubernetesSettingsOf(backend: BackendSettings | undefined): KubernetesSettings {
  const base = backend?.kubernetes ?? PREVIEW_KUBERNETES_SETTINGS;
  return { ...base, ...(backend ? { sidecarImages: backend.sidecarImages, template: backend.template } : {}) };
}
