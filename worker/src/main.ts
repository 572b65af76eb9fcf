import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import Docker from 'dockerode';
import { errorText, exitWithParent, loadConfig, QueueNames, type WorkerConfig } from '@sidecar/core';
import { createLogger, exitOnUnhandled, type Logger } from '@sidecar/platform-process';
import { ensurePlatformImages, type PlatformImages } from '@sidecar/runtime-image';
import {
  connectQueueRedis,
  connectRedis,
  connectSubscriber,
  createStores,
  FsBlobStore,
  loadSecretBox,
  PlatformCa,
} from '@sidecar/store';
import { DeployQueues } from '@sidecar/store/queues';

import { createBackend } from './backends/index.js';
import {
  DockerImageBuilder,
  imageBuildStrategyOf,
  loaderPortOf,
  NpmDependencyInstaller,
  prepareBundle,
  sweepBuildContainers,
  sweepBuildLeftovers,
} from './builder/index.js';
import { BundleSweeper } from './bundle-gc.js';
import { CancelRegistry } from './cancel-registry.js';
import { buildProcessor } from './processors/build.processor.js';
import { deployProcessor } from './processors/deploy.processor.js';
import { settleFailedJob } from './processors/failed-jobs.js';
import { jobProcessor } from './processors/job.processor.js';
import { connectDocker } from './docker-engine.js';
import { throttledErrorLog } from './throttled-error-log.js';
import { ScaleToZero } from './scale-to-zero.js';
import { StatusPublisher } from './status-publisher.js';

/** The platform images: all pinned by the launcher (SIDECAR_*_IMAGE), or built here when any is missing. */
async function platformImages(config: WorkerConfig, docker: Docker, log: Logger): Promise<PlatformImages> {
  const c = config;
  if (
    c.SIDECAR_PAUSE_IMAGE &&
    c.SIDECAR_LOGIC_BASE_IMAGE &&
    c.SIDECAR_RUNTIME_IMAGE &&
    c.SIDECAR_BUILDER_IMAGE &&
    c.SIDECAR_TLS_TERMINATOR_IMAGE &&
    c.SIDECAR_PROCINFO_IMAGE &&
    c.SIDECAR_LOG_SHIPPER_IMAGE
  ) {
    return {
      pause: c.SIDECAR_PAUSE_IMAGE,
      logicBase: c.SIDECAR_LOGIC_BASE_IMAGE,
      runtimeNode: c.SIDECAR_RUNTIME_IMAGE,
      builderNode: c.SIDECAR_BUILDER_IMAGE,
      tlsTerminator: c.SIDECAR_TLS_TERMINATOR_IMAGE,
      procinfo: c.SIDECAR_PROCINFO_IMAGE,
      logShipper: c.SIDECAR_LOG_SHIPPER_IMAGE,
    };
  }
  return ensurePlatformImages({ docker, log: (l) => log.info({ step: 'images' }, l) });
}

/** Wires the worker: queues in, a backend (Docker or Kubernetes) out. Every dependency is made here and passed down. */
async function main(): Promise<void> {
  const config = loadConfig('worker', process.env);
  const log = createLogger('worker', { format: config.SIDECAR_LOG_FORMAT, level: config.SIDECAR_LOG_LEVEL });
  exitOnUnhandled(log);
  const redisWarn = (message: string) => log.warn(message);
  const info = (line: string) => log.info(line);
  const docker = await connectDocker(config);
  const images = await platformImages(config, docker, log);
  // Signs the TLS sidecars' certificates; created here or by the API, whichever starts first.
  const ca = await PlatformCa.load(config.SIDECAR_DATA_DIR, { appsDomain: config.SIDECAR_APPS_DOMAIN });
  const issueTls = (app: string) => ca.issue(`${app}.${config.SIDECAR_APPS_DOMAIN}`);
  const redis = connectRedis(config.SIDECAR_REDIS_URL, {}, redisWarn);
  const subscriber = connectSubscriber(config.SIDECAR_REDIS_URL, redisWarn);
  const secrets = await loadSecretBox({ env: config.SIDECAR_SECRETS_KEYS, dataDir: config.SIDECAR_DATA_DIR });
  const stores = createStores(redis, config.SIDECAR_REDIS_PREFIX, secrets, {
    appLogMaxAgeMs: config.SIDECAR_LOG_MAX_AGE_MS,
  });
  const engine = await docker.info();
  const backend = await createBackend({ config, docker, images, stores, issueTls, log, engine });
  // The API renders `/manifests` and records new releases with exactly what this backend applies.
  await stores.platform.publishBackend(backend.settings);
  // Key rotation: values sealed with an older key (still loaded) move to the first key.
  const resealed = await stores.apps.reseal();
  if (resealed > 0) log.info(`re-sealed ${resealed} secret value(s) with key "${secrets.activeKeyId}"`);
  const cancels = new CancelRegistry();
  await cancels.start((onCancel) => stores.deploys.onCancel(subscriber, onCancel));
  await backend.start(info);
  const { target } = backend;

  const bundlesDir = join(config.SIDECAR_DATA_DIR, 'bundles');
  const bundles = new BundleSweeper({ root: bundlesDir, stores, graceMs: config.SIDECAR_BUNDLE_GRACE_MS, log });
  bundles.start();
  const workRoot = join(config.SIDECAR_DATA_DIR, 'builds');
  await mkdir(workRoot, { recursive: true });
  const npmCacheRoot = join(config.SIDECAR_DATA_DIR, 'npm-cache');
  // Before any build is taken: what a crashed worker's builds left behind. Its build containers first:
  // an npm install it started runs on without it, writing into its build folder (a bind mount), and a
  // folder being written to cannot be removed (ENOTEMPTY: the worker would crash at every start).
  await sweepBuildContainers({
    docker,
    isOurDeploy: async (id) => (await stores.deploys.find(id)) !== null,
    log: info,
  });
  await sweepBuildLeftovers({
    workRoot,
    npmCacheRoot,
    appExists: async (a) => (await stores.apps.find(a)) !== null,
    log: info,
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
    connection: connectQueueRedis(config.SIDECAR_REDIS_URL, redisWarn),
    prefix: `${config.SIDECAR_REDIS_PREFIX}bull`,
  };
  // Short locks so a killed worker's job is recovered (moved back to wait) within seconds.
  const lockOpts = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 2 };

  const buildWorker = new Worker(
    QueueNames.build,
    buildProcessor({
      stores,
      cancels,
      runtimeImage: backend.settings.runtimeImage,
      runtimeImageDigest: backend.settings.runtimeImageDigest,
      loaderPort: () => loaderPortOf(docker, images.logicBase),
      workRoot,
      blobs: new FsBlobStore(bundlesDir),
      prepare: (o) => prepareBundle({ ...o, limits, installer }),
      images: backend.publishing(
        new DockerImageBuilder({
          docker,
          strategy: imageBuildStrategyOf(engine),
          logicBaseImage: images.logicBase,
          platformId: config.SIDECAR_PLATFORM_ID,
        }),
      ),
      enqueueDeploy: (p) => producer.enqueueDeploy(p),
      target,
    }),
    { ...connection, ...lockOpts, concurrency: config.SIDECAR_BUILD_CONCURRENCY },
  );
  const status = new StatusPublisher(stores, target, undefined, log);
  const deployWorker = new Worker(
    QueueNames.deploy,
    deployProcessor({
      stores,
      target,
      cancels,
      publishStatus: (app) => status.publishApp(app),
      log,
      pruneImages: (app, say) => backend.images.prune(app, say),
      removeImages: (app, madeBefore) => backend.images.removeApp(app, madeBefore),
    }),
    {
      ...connection,
      ...lockOpts,
      concurrency: config.SIDECAR_DEPLOY_CONCURRENCY,
    },
  );
  const jobWorker = new Worker(
    QueueNames.jobs,
    jobProcessor({ stores, target, timeLimitMs: config.SIDECAR_JOB_TIME_LIMIT_MS }),
    { ...connection, ...lockOpts, concurrency: config.SIDECAR_JOB_CONCURRENCY },
  );
  // A full disk makes Redis refuse writes and BullMQ's loops fail as fast as they can: said once per 10 s.
  const queueError = throttledErrorLog(log, 'queue error');
  for (const w of [buildWorker, deployWorker, jobWorker]) {
    w.on('error', queueError);
    // A job that failed for good outside the processors' own error policy (stalled too often,
    // or an error before its deploy was loaded) must still end its deploy or job visibly.
    w.on('failed', (job, err) => {
      if (job)
        settleFailedJob(stores, job, err).catch((e: unknown) =>
          log.error({ err: e, job: job.id }, 'settling a failed job'),
        );
    });
  }

  status.start();
  // Suspends apps idle past their scaleToZero.idleSeconds; wakes them when a router asks.
  const idle = new ScaleToZero({
    stores,
    target,
    subscriber,
    publishStatus: (app) => status.publishApp(app),
    enqueueDeploy: (payload) => producer.enqueueDeploy(payload),
    log,
  });
  await idle.start();
  const heartbeat = async () => {
    try {
      await target.ping();
      await stores.platform.beat();
    } catch (e) {
      log.error(`target does not answer: ${errorText(e)}`);
    }
  };
  await heartbeat();
  const beat = setInterval(() => void heartbeat(), 5000);
  log.info({ ready: true }, `ready (target ${config.SIDECAR_TARGET}, platform ${config.SIDECAR_PLATFORM_ID})`);

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
        bundles.close(),
        idle.close(),
      ]);
      await Promise.allSettled([backend.close(), producer.close()]);
      await stores.close();
      await Promise.allSettled([redis.quit(), subscriber.quit(), connection.connection.quit()]);
      for (const r of results) if (r.status === 'rejected') log.error({ err: r.reason }, 'close');
      clearTimeout(forced);
    })());
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void close().then(() => process.exit(0)));
  exitWithParent(process.env, () => void close().then(() => process.exit(0)));
}

main().catch((e: unknown) => {
  process.stderr.write(`worker: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
