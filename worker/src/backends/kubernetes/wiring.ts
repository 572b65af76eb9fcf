import type Docker from 'dockerode';
import type {
  ImageBuilder,
  KubernetesSettings,
  PlatformSidecarImages,
  TemplateSettings,
  TlsMaterial,
} from '@sidecar/core';
import { loadKubeConfig } from './kube-config.js';
import { KubernetesTarget } from './kubernetes-target.js';
import { PublishingImageBuilder, RegistryImagePublisher } from './registry.js';

/** The worker settings this target reads (validated in worker/src/config.ts). */
export interface KubernetesWorkerConfig {
  SIDECAR_PLATFORM_ID: string;
  SIDECAR_K8S_NAMESPACE: string;
  SIDECAR_INGRESS_CLASS?: string | undefined;
  SIDECAR_INGRESS_HOST_PATTERN?: string | undefined;
  SIDECAR_REGISTRY?: string | undefined;
  SIDECAR_K8S_PROGRESS_DEADLINE_SECONDS: number;
}

/**
 * What `SIDECAR_TARGET=kubernetes` changes in the worker, made in one place for main.ts:
 * the target (kubeconfig or in-cluster config), and the runtime and platform sidecar images
 * published to the registry, so that the cluster's nodes can pull them and manifests
 * reference them by digest. A sidecar image is pushed only when the registry's copy is not
 * the local image (publishIfAbsent compares digests: an overridden image may be a mutable tag),
 * so an unchanged image is pushed once, whatever the number of worker starts.
 */
export async function kubernetesWorkerParts(opts: {
  config: KubernetesWorkerConfig;
  docker: Docker;
  runtimeImage: string;
  /** The platform sidecars' local images; every entry is published, so a new sidecar needs only its image here. */
  sidecarImages: PlatformSidecarImages;
  /** The `tls` sidecar's certificate for an app that brings none. */
  issueTls: (app: string) => Promise<TlsMaterial>;
  template?: TemplateSettings;
}): Promise<{ target: KubernetesTarget; runtimeImage: string; sidecarImages: PlatformSidecarImages }> {
  const { config } = opts;
  if (!config.SIDECAR_REGISTRY || !config.SIDECAR_INGRESS_CLASS || !config.SIDECAR_INGRESS_HOST_PATTERN) {
    throw new Error(
      'SIDECAR_TARGET=kubernetes needs SIDECAR_REGISTRY, SIDECAR_INGRESS_CLASS and SIDECAR_INGRESS_HOST_PATTERN',
    );
  }
  const publisher = new RegistryImagePublisher({ docker: opts.docker, registry: config.SIDECAR_REGISTRY });
  const log = (l: string) => console.log(`worker: images: ${l}`);
  const runtime = await publisher.publish(opts.runtimeImage, { log });
  const published = await Promise.all(
    Object.entries(opts.sidecarImages).map(
      async ([name, ref]) => [name, (await publisher.publishIfAbsent(ref, { log })).ref] as const,
    ),
  );
  const sidecarImages = Object.fromEntries(published) as unknown as PlatformSidecarImages;
  const settings: KubernetesSettings = {
    namespace: config.SIDECAR_K8S_NAMESPACE,
    platformId: config.SIDECAR_PLATFORM_ID,
    ingressClassName: config.SIDECAR_INGRESS_CLASS,
    hostPattern: config.SIDECAR_INGRESS_HOST_PATTERN,
    registry: config.SIDECAR_REGISTRY,
    progressDeadlineSeconds: config.SIDECAR_K8S_PROGRESS_DEADLINE_SECONDS,
    sidecarImages,
    ...(opts.template ? { template: opts.template } : {}),
  };
  const target = new KubernetesTarget({ kubeConfig: loadKubeConfig(), settings, issueTls: opts.issueTls });
  return { target, runtimeImage: runtime.ref, sidecarImages };
}

/** The build pipeline's image builder, pushing each logic image to SIDECAR_REGISTRY when one is set. */
export function publishingBuilder(
  builder: ImageBuilder,
  opts: { docker: Docker; registry?: string | undefined },
): ImageBuilder {
  return opts.registry
    ? new PublishingImageBuilder(builder, new RegistryImagePublisher({ docker: opts.docker, registry: opts.registry }))
    : builder;
}
