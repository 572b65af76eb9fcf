import { DEFAULT_TEMPLATE_SETTINGS, errorText, parseCpu, type WorkerConfig } from '@sidecar/core';
import { localImageHousekeeping } from '../../retention.js';
import type { Backend, BackendDeps } from '../backend.js';
import { PublishingImageBuilder, RegistryImagePublisher, registryAuthOf } from '../registry.js';
import { DockerTarget } from './docker-target.js';
import { LogCollector } from './log-collector.js';
import { ProcessInsight } from './process-insight.js';

/** The embedded default: pods on the local Docker engine, run by the kubelet package. */
export async function createDockerBackend(deps: BackendDeps): Promise<Backend> {
  const { config, docker, images, stores } = deps;
  const sidecarImages = { logs: images.logShipper, tls: images.tlsTerminator, procinfo: images.procinfo };
  const template = { ...DEFAULT_TEMPLATE_SETTINGS, appLogVolumeSize: config.SIDECAR_APP_LOG_VOLUME_SIZE };
  const scope = { docker, stores, platformId: config.SIDECAR_PLATFORM_ID, log: deps.log };
  const logs = new LogCollector(scope);
  const target = new DockerTarget({
    docker,
    routes: stores.routes,
    pauseImage: images.pause,
    platformId: config.SIDECAR_PLATFORM_ID,
    backoffScale: config.SIDECAR_BACKOFF_SCALE,
    readyTimeoutMs: config.SIDECAR_READY_TIMEOUT_MS,
    warmSandboxes: config.SIDECAR_WARM_SANDBOXES,
    rollbackWindowMs: config.SIDECAR_ROLLBACK_WINDOW_MS,
    ...startupCpuBoostOf(config, deps.engine.NCPU),
    settings: template,
    platformSidecars: { images: sidecarImages, issueTls: deps.issueTls },
    log: deps.log,
    // A pod's output is stored to its last line before its containers are removed.
    drainLogs: (pod) => logs.drainPod(pod),
  });
  const runtimeImageDigest = (await docker.getImage(images.runtimeNode).inspect()).Id;
  const processes = new ProcessInsight(scope);
  return {
    settings: { target: 'docker', runtimeImage: images.runtimeNode, runtimeImageDigest, sidecarImages, template },
    target,
    // With SIDECAR_REGISTRY set, logic images are pushed there too (e.g. for a later move to a cluster).
    publishing: (builder) =>
      config.SIDECAR_REGISTRY
        ? new PublishingImageBuilder(
            builder,
            new RegistryImagePublisher({ docker, registry: config.SIDECAR_REGISTRY, auth: registryAuthOf(config) }),
          )
        : builder,
    // Only the engine's images: a registry here is a copy for later, not where the apps run from.
    images: localImageHousekeeping({
      docker,
      stores,
      platformId: config.SIDECAR_PLATFORM_ID,
      keep: config.SIDECAR_KEEP_RELEASES,
      log: deps.log,
    }),
    logs,
    processes,
    async start(log) {
      // Pods that cannot be adopted are deleted by the target, which logs why through `log`.
      const { adopted } = await target.adopt({
        log,
        // An app scaled to zero keeps its pods suspended across a restart of the worker.
        suspendedPods: (app) => stores.activity.suspendedPods(app),
      });
      if (adopted.length > 0) log(`adopted ${adopted.length} running pod(s)`);
      // In the background: a deploy before the pool is warm just creates its own sandbox.
      target.warmUp().catch((e: unknown) => log(`warming sandboxes: ${errorText(e)}`));
      logs.start();
      processes.start();
    },
    async close() {
      await Promise.allSettled([logs.close(), processes.close()]);
      await target.close();
    },
  };
}

/**
 * SIDECAR_STARTUP_CPU, never above what a tenant may ask for (SIDECAR_MAX_CPU) nor the engine's CPUs
 * (it refuses a limit above them); 0: no boost.
 */
export function startupCpuBoostOf(
  config: WorkerConfig,
  engineCpus: number,
): { startupCpuBoost?: { nanoCpus: number; maxMs: number } } {
  const nanoCpus = Math.min(parseCpu(config.SIDECAR_STARTUP_CPU), parseCpu(config.SIDECAR_MAX_CPU), engineCpus * 1e9);
  return nanoCpus > 0 ? { startupCpuBoost: { nanoCpus, maxMs: config.SIDECAR_STARTUP_CPU_MS } } : {};
}
