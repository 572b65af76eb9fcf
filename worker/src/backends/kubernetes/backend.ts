import {
  DEFAULT_TEMPLATE_SETTINGS,
  kubernetesSettingsOf,
  type BackendSettings,
  type PlatformSidecarImages,
} from '@sidecar/core';
import type { Backend, BackendDeps } from '../backend.js';
import { loadKubeConfig } from './kube-config.js';
import { KubeLogCollector } from './kube-log-collector.js';
import { KubeProcessInsight } from './kube-process-insight.js';
import { KubernetesTarget } from './kubernetes-target.js';
import { PublishingImageBuilder, RegistryImagePublisher, registryAuthOf } from '../registry.js';
import { kubernetesImageHousekeeping } from './image-housekeeping.js';

/**
 * `SIDECAR_TARGET=kubernetes`: the cluster target (kubeconfig or in-cluster config), with the runtime
 * and platform sidecar images published to the registry so that the nodes can pull them and manifests
 * reference them by digest. A sidecar image is pushed only when the registry's copy is not the local
 * image (publishIfAbsent compares digests: an overridden image may be a mutable tag), so an unchanged
 * image is pushed once, whatever the number of worker starts. Logs and process insight go through
 * the API server (pods/log, pods/exec).
 */
export async function createKubernetesBackend(deps: BackendDeps): Promise<Backend> {
  const { config, docker, images, stores } = deps;
  // The config schema requires these three with SIDECAR_TARGET=kubernetes; checked again for the types.
  const { SIDECAR_REGISTRY: registry, SIDECAR_INGRESS_CLASS: ingressClassName } = config;
  const hostPattern = config.SIDECAR_INGRESS_HOST_PATTERN;
  if (!registry || !ingressClassName || !hostPattern) {
    throw new Error(
      'SIDECAR_TARGET=kubernetes needs SIDECAR_REGISTRY, SIDECAR_INGRESS_CLASS and SIDECAR_INGRESS_HOST_PATTERN',
    );
  }
  const publisher = new RegistryImagePublisher({ docker, registry, auth: registryAuthOf(config) });
  const imageLog = (l: string) => deps.log.info({ step: 'images' }, l);
  const runtime = await publisher.publish(images.runtimeNode, { log: imageLog });
  const local: PlatformSidecarImages = {
    logs: images.logShipper,
    tls: images.tlsTerminator,
    procinfo: images.procinfo,
  };
  const published = await Promise.all(
    Object.entries(local).map(
      async ([name, ref]) => [name, (await publisher.publishIfAbsent(ref, { log: imageLog })).ref] as const,
    ),
  );
  const sidecarImages = Object.fromEntries(published) as unknown as PlatformSidecarImages;
  const template = { ...DEFAULT_TEMPLATE_SETTINGS, appLogVolumeSize: config.SIDECAR_APP_LOG_VOLUME_SIZE };
  const kubernetes = {
    namespace: config.SIDECAR_K8S_NAMESPACE,
    platformId: config.SIDECAR_PLATFORM_ID,
    ingressClassName,
    hostPattern,
    registry,
    progressDeadlineSeconds: config.SIDECAR_K8S_PROGRESS_DEADLINE_SECONDS,
    imagePullSecret: config.SIDECAR_K8S_IMAGE_PULL_SECRET,
    networkPolicy: {
      ingressFrom: {
        namespaceSelector: config.SIDECAR_K8S_INGRESS_NAMESPACE_SELECTOR,
        ...(config.SIDECAR_K8S_INGRESS_POD_SELECTOR ? { podSelector: config.SIDECAR_K8S_INGRESS_POD_SELECTOR } : {}),
      },
      dns: {
        namespaceSelector: config.SIDECAR_K8S_DNS_NAMESPACE_SELECTOR,
        podSelector: config.SIDECAR_K8S_DNS_POD_SELECTOR,
      },
      privateCidrs: config.SIDECAR_K8S_PRIVATE_CIDRS,
    },
  };
  const runtimeImageDigest = (await docker.getImage(images.runtimeNode).inspect()).Id;
  const settings: BackendSettings = {
    target: 'kubernetes',
    runtimeImage: runtime.ref,
    runtimeImageDigest,
    sidecarImages,
    template,
    kubernetes,
  };
  const kubeConfig = loadKubeConfig();
  // The API renders `/manifests` from the published `settings` with the same function.
  const target = new KubernetesTarget({
    kubeConfig,
    settings: kubernetesSettingsOf(settings),
    issueTls: deps.issueTls,
    log: deps.log,
  });
  const scope = {
    kubeConfig,
    namespace: config.SIDECAR_K8S_NAMESPACE,
    stores,
    platformId: config.SIDECAR_PLATFORM_ID,
    log: deps.log,
  };
  const logs = new KubeLogCollector(scope);
  const processes = new KubeProcessInsight(scope);
  return {
    settings,
    target,
    publishing: (builder) => new PublishingImageBuilder(builder, publisher),
    images: await kubernetesImageHousekeeping({ config, docker, stores, log: deps.log, registry }),
    logs,
    processes,
    start() {
      logs.start();
      processes.start();
      return Promise.resolve();
    },
    async close() {
      await Promise.allSettled([logs.close(), processes.close()]);
      await target.close();
    },
  };
}
