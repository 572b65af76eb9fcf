import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import Docker from 'dockerode';
import { QueueNames, exitWithParent } from '@sidecar/core';
import { ensurePlatformImages, type PlatformImages } from '@sidecar/runtime-image';
import {
  connectRedis,
  connectSubscriber,
  createStores,
  DeployQueues,
  FsBlobStore,
  loadSecretBox,
  PlatformCa,
} from '@sidecar/store';

import { DockerImageBuilder, NpmDependencyInstaller, prepareBundle, sweepBuildLeftovers } from './builder/index.js';
import { CancelRegistry } from './cancel-registry.js';
import { loadConfig } from './config.js';
import { buildProcessor } from './processors/build.processor.js';
import { deployProcessor } from './processors/deploy.processor.js';
import { jobProcessor } from './processors/job.processor.js';
import { settleFailedJob } from './processors/failed-jobs.js';
import { KubeLogCollector } from './backends/kubernetes/kube-log-collector.js';
import { KubeProcessInsight } from './backends/kubernetes/kube-process-insight.js';
import { LogCollector } from './backends/docker/log-collector.js';
import { ProcessInsight } from './backends/docker/process-insight.js';
import { pruneReleaseImages } from './retention.js';
import { BundleSweeper } from './bundle-gc.js';
import { StatusPublisher } from './status-publisher.js';
import { DockerTarget } from './backends/docker/index.js';
import { kubernetesWorkerParts, loadKubeConfig, publishingBuilder } from './backends/kubernetes/index.js';

async function platformImages(docker: Docker): Promise<PlatformImages> {
  const e = process.env;
  if (
    e.SIDECAR_PAUSE_IMAGE &&
    e.SIDECAR_LOGIC_BASE_IMAGE &&
    e.SIDECAR_RUNTIME_IMAGE &&
    e.SIDECAR_BUILDER_IMAGE &&
    e.SIDECAR_TLS_TERMINATOR_IMAGE &&
    e.SIDECAR_PROCINFO_IMAGE &&
    e.SIDECAR_LOG_SHIPPER_IMAGE
  ) {
    return {
      pause: e.SIDECAR_PAUSE_IMAGE,
      logicBase: e.SIDECAR_LOGIC_BASE_IMAGE,
      runtimeNode: e.SIDECAR_RUNTIME_IMAGE,
      builderNode: e.SIDECAR_BUILDER_IMAGE,
      tlsTerminator: e.SIDECAR_TLS_TERMINATOR_IMAGE,
      procinfo: e.SIDECAR_PROCINFO_IMAGE,
      logShipper: e.SIDECAR_LOG_SHIPPER_IMAGE,
    };
  }
  return ensurePlatformImages({ docker, log: (l) => console.log(`worker: images: ${l}`) });
}

/** Wires the worker: queues in, Docker out. Every dependency is made here and passed down. */
async function main(): Promise<void> {
  const config = loadConfig();
  const docker = new Docker({ socketPath: config.SIDECAR_DOCKER_SOCKET });
  const images = await platformImages(docker);
  // Signs the TLS sidecars' certificates; created here or by the API, whichever starts first.
  const ca = await PlatformCa.load(config.SIDECAR_DATA_DIR, { appsDomain: config.SIDECAR_APPS_DOMAIN });
  const issueTls = (app: string) => ca.issue(`${app}.${config.SIDECAR_APPS_DOMAIN}`);
  const localSidecarImages = { logs: images.logShipper, tls: images.tlsTerminator, procinfo: images.procinfo };
  // SIDECAR_TARGET=kubernetes: the cluster target, and the runtime and sidecar images pushed to SIDECAR_REGISTRY (referenced by digest).
  const k8s =
    config.SIDECAR_TARGET === 'kubernetes'
      ? await kubernetesWorkerParts({
          config,
          docker,
          runtimeImage: images.runtimeNode,
          sidecarImages: localSidecarImages,
          issueTls,
        })
      : undefined;
  const runtimeImage = k8s?.runtimeImage ?? images.runtimeNode;
  const redis = connectRedis(config.SIDECAR_REDIS_URL);
  const subscriber = connectSubscriber(config.SIDECAR_REDIS_URL);
  const secrets = await loadSecretBox({ env: config.SIDECAR_SECRETS_KEYS, dataDir: config.SIDECAR_DATA_DIR });
  const stores = createStores(redis, config.SIDECAR_REDIS_PREFIX, secrets, {
    appLogMaxAgeMs: config.SIDECAR_LOG_MAX_AGE_MS,
  });
  // Key rotation: values sealed with an older key (still loaded) move to the first key.
  const runtimeImageDigest = (await docker.getImage(runtimeImage).inspect()).Id;
  // The API renders `/manifests` with the sidecar images pods actually reference.
  const sidecarImages = JSON.stringify(k8s?.sidecarImages ?? localSidecarImages);
  await redis
    .multi()
    .set(stores.keys.runtimeImage, runtimeImage)
    .set(stores.keys.runtimeImageDigest, runtimeImageDigest)
    .set(stores.keys.sidecarImages, sidecarImages)
    .exec();
  const resealed = await stores.apps.reseal();
  if (resealed > 0) console.log(`worker: re-sealed ${resealed} secret value(s) with key "${secrets.activeKeyId}"`);
  const cancels = new CancelRegistry(subscriber, stores.keys.cancelChannel);
  await cancels.start();

  const target = k8s
    ? k8s.target
    : new DockerTarget({
        docker,
        routes: stores.routes,
        pauseImage: images.pause,
        platformId: config.SIDECAR_PLATFORM_ID,
        backoffScale: config.SIDECAR_BACKOFF_SCALE,
        readyTimeoutMs: config.SIDECAR_READY_TIMEOUT_MS,
        warmSandboxes: config.SIDECAR_WARM_SANDBOXES,
        platformSidecars: { images: localSidecarImages, issueTls },
      });
  if (target instanceof DockerTarget) {
    const { adopted, failed } = await target.adopt();
    if (adopted.length > 0) console.log(`worker: adopted ${adopted.length} running pod(s)`);
    // Not supervised, not reported: say so, with why, so an operator can delete them.
    for (const f of failed) console.error(`worker: could not adopt pod ${f.pod}: ${f.error.message}`);
    // In the background: a deploy before the pool is warm just creates its own sandbox.
    void target
      .warmUp()
      .catch((e: unknown) => console.error(`worker: warming sandboxes: ${e instanceof Error ? e.message : String(e)}`));
  }

  const bundlesDir = join(config.SIDECAR_DATA_DIR, 'bundles');
  const bundles = new BundleSweeper({ root: bundlesDir, stores, graceMs: config.SIDECAR_BUNDLE_GRACE_MS });
  bundles.start();
  const workRoot = join(config.SIDECAR_DATA_DIR, 'builds');
  await mkdir(workRoot, { recursive: true });
  const npmCacheRoot = join(config.SIDECAR_DATA_DIR, 'npm-cache');
  // Before any build is taken: what a crashed worker's builds left on the disk.
  await sweepBuildLeftovers({
    workRoot,
    npmCacheRoot,
    appExists: async (a) => (await stores.apps.find(a)) !== null,
    log: (l) => console.log(`worker: ${l}`),
  });
  const limits = {
    maxCompressedBytes: config.SIDECAR_MAX_BUNDLE_BYTES,
    maxUnpackedBytes: config.SIDECAR_MAX_UNPACKED_BYTES,
    maxEntries: config.SIDECAR_MAX_ENTRIES,
    maxBuildBytes: config.SIDECAR_MAX_BUILD_BYTES,
  };
  const installer = new NpmDependencyInstaller({
    docker,
    builderImage: images.builderNode,
    extraCaFile: config.SIDECAR_BUILD_EXTRA_CA_FILE,
    cacheRoot: npmCacheRoot,
    maxCacheBytes: config.SIDECAR_NPM_CACHE_MAX_BYTES,
    registry: config.SIDECAR_NPM_REGISTRY,
    proxy: config.SIDECAR_NPM_PROXY,
    noProxy: config.SIDECAR_NPM_NO_PROXY,
  });
  const producer = new DeployQueues(redis, config.SIDECAR_REDIS_PREFIX);
  const connection = {
    connection: connectRedis(config.SIDECAR_REDIS_URL),
    prefix: `${config.SIDECAR_REDIS_PREFIX}bull`,
  };
  // Short locks so a killed worker's job is recovered (moved back to wait) within seconds.
  const lockOpts = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 2 };

  const buildWorker = new Worker(
    QueueNames.build,
    buildProcessor({
      stores,
      cancels,
      runtimeImage,
      runtimeImageDigest,
      workRoot,
      blobs: new FsBlobStore(bundlesDir),
      prepare: (o) => prepareBundle({ ...o, limits, installer }),
      images: publishingBuilder(new DockerImageBuilder({ docker, logicBaseImage: images.logicBase }), {
        docker,
        registry: config.SIDECAR_REGISTRY,
      }),
      enqueueDeploy: (p) => producer.enqueueDeploy(p),
    }),
    { ...connection, ...lockOpts, concurrency: config.SIDECAR_BUILD_CONCURRENCY },
  );
  const status = new StatusPublisher(stores, target);
  const deployWorker = new Worker(
    QueueNames.deploy,
    deployProcessor({
      stores,
      target,
      cancels,
      publishStatus: (app) => status.publishApp(app),
      pruneImages: (app, log) =>
        pruneReleaseImages({ docker, stores, app, keep: config.SIDECAR_KEEP_RELEASES, log }).then(() => undefined),
    }),
    {
      ...connection,
      ...lockOpts,
      concurrency: config.SIDECAR_DEPLOY_CONCURRENCY,
    },
  );
  const jobWorker = new Worker(QueueNames.jobs, jobProcessor({ stores, target }), {
    ...connection,
    ...lockOpts,
    concurrency: 4,
  });
  for (const w of [buildWorker, deployWorker, jobWorker]) {
    w.on('error', (e) => console.error(`worker: queue error: ${e.message}`));
    // A job that failed for good outside the processors' own error policy (stalled too often,
    // or an error before its deploy was loaded) must still end its deploy or job visibly.
    w.on('failed', (job, err) => {
      if (job)
        void settleFailedJob(stores, job, err).catch((e: unknown) =>
          console.error(`worker: settling failed job ${job.id}: ${String(e)}`),
        );
    });
  }

  status.start();
  // App logs into Redis: from the Docker engine's containers, or from the cluster's pods through the API.
  const logs = k8s
    ? new KubeLogCollector({
        kubeConfig: loadKubeConfig(),
        namespace: config.SIDECAR_K8S_NAMESPACE,
        stores,
        platformId: config.SIDECAR_PLATFORM_ID,
      })
    : new LogCollector({ docker, stores, platformId: config.SIDECAR_PLATFORM_ID });
  logs.start();
  // Process lists from the procinfo sidecars: `docker exec`, or pods/exec through the API.
  const processes = k8s
    ? new KubeProcessInsight({
        kubeConfig: loadKubeConfig(),
        namespace: config.SIDECAR_K8S_NAMESPACE,
        stores,
        platformId: config.SIDECAR_PLATFORM_ID,
      })
    : new ProcessInsight({ docker, stores, platformId: config.SIDECAR_PLATFORM_ID });
  processes.start();
  const heartbeat = async () => {
    try {
      await target.ping();
      await redis.set(stores.keys.workerHeartbeat, new Date().toISOString(), 'EX', 15);
    } catch (e) {
      console.error(`worker: target does not answer: ${(e as Error).message}`);
    }
  };
  await heartbeat();
  const beat = setInterval(() => void heartbeat(), 5000);
  console.log(`worker: ready (target ${config.SIDECAR_TARGET}, platform ${config.SIDECAR_PLATFORM_ID})`);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const forced = setTimeout(() => process.exit(1), 20_000).unref();
      clearInterval(beat);
      // Stop taking jobs and let running ones finish; pods keep running (adopted on the next start).
      const results = await Promise.allSettled([
        buildWorker.close(),
        deployWorker.close(),
        jobWorker.close(),
        status.close(),
        logs.close(),
        processes.close(),
        bundles.close(),
      ]);
      await Promise.allSettled([target.close(), producer.close()]);
      await stores.close();
      await Promise.allSettled([redis.quit(), subscriber.quit(), connection.connection.quit()]);
      for (const r of results) if (r.status === 'rejected') console.error(`worker: close: ${String(r.reason)}`);
      clearTimeout(forced);
    })());
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void close().then(() => process.exit(0)));
  exitWithParent(process.env, () => void close().then(() => process.exit(0)));
}

main().catch((e: unknown) => {
  console.error(`worker: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
