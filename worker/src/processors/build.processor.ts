import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import {
  BuildJobPayload,
  type BundleManifest,
  DomainError,
  ErrorCode,
  type DeployJobPayload,
  type ImageBuilder,
  Labels,
  type LogSink,
  type App,
  type Deploy,
  type PreparedPod,
  type Release,
  type Target,
  errorText,
} from '@sidecar/core';
import type { FsBlobStore, Stores } from '@sidecar/store';
import type { CancelRegistry } from '../cancel-registry.js';
import { handleFailure, markCancelled, recorder } from './deploy-state.js';

export interface PrepareFn {
  (opts: {
    source: string;
    workDir: string;
    labels: Record<string, string>;
    signal: AbortSignal;
    log: LogSink;
  }): Promise<{ dir: string; manifest: BundleManifest }>;
}

export interface BuildDeps {
  stores: Stores;
  blobs: FsBlobStore;
  cancels: CancelRegistry;
  prepare: PrepareFn;
  images: ImageBuilder;
  runtimeImage: string;
  runtimeImageDigest: string;
  /**
   * Where the loader of the logic base the images are built from listens (loaderPortOf), read at each build (the
   * base's tag may move); undefined: it does not listen, and the release's startup probe looks for the marker.
   */
  loaderPort?: () => Promise<number | undefined>;
  workRoot: string;
  enqueueDeploy: (p: DeployJobPayload) => Promise<void>;
  /** Where the release will run: a target that can start its first pod while the image builds does (Target.prepare). */
  target?: Pick<Target, 'prepare'>;
}

/** Bundle → logic sidecar image → Release, then hands over to the deploy queue. */
export function buildProcessor(deps: BuildDeps) {
  const { stores } = deps;
  return async (job: Job, _token?: string, jobSignal?: AbortSignal): Promise<void> => {
    const payload = BuildJobPayload.parse(job.data);
    const deploy = await stores.deploys.find(payload.deployId);
    // Idempotent: a redelivered job for a deploy that already moved on does nothing.
    if (!deploy || (deploy.status !== 'queued' && deploy.status !== 'building') || deploy.bundleDigest === null) return;
    const bundleDigest = deploy.bundleDigest;
    if (await stores.deploys.isCancelRequested(deploy.id))
      return markCancelled(stores, deploy, 'cancelled before the build started');

    const rec = recorder(stores, deploy.id);
    const control = deps.cancels.enter(deploy.id, jobSignal);
    const workDir = await mkdtemp(join(deps.workRoot, `build-${deploy.id}-`));
    let early: EarlyPod | undefined;
    // Read beside the bundle's preparation. Not read (a missing base then fails the image build with its own
    // message): the release's startup probe looks for the loader's marker, which every loader writes.
    const loaderPort =
      deps.loaderPort?.().catch((e: unknown) => {
        rec.log(`build: could not read the logic base's loader port (${errorText(e)}); probing for its marker`);
        return undefined;
      }) ?? Promise.resolve(undefined);
    try {
      await stores.deploys.update(deploy.id, (d) => ({
        status: 'building',
        startedAt: d.startedAt ?? new Date().toISOString(),
      }));
      rec.log(`build: started (attempt ${job.attemptsMade + 1})`);
      const prepared = await deps.prepare({
        source: deps.blobs.path(bundleDigest),
        workDir,
        labels: { [Labels.deploy]: deploy.id, [Labels.app]: deploy.app },
        signal: control.signal,
        log: rec.log,
      });
      if (control.signal.aborted) throw new DomainError(ErrorCode.cancelled, 'cancelled');
      const code: BuiltCode = { manifest: prepared.manifest, loaderPort: await loaderPort };
      early = await startPodEarly(deps, deploy, code, rec.log);
      const built = await deps.images.build({
        app: deploy.app,
        deployId: deploy.id,
        bundleDir: prepared.dir,
        manifest: prepared.manifest,
        signal: control.signal,
        log: rec.log,
      });
      early?.pod?.imageBuilt();
      // A cancel that arrived during the image build must not leave a release behind.
      if (control.signal.aborted || (await stores.deploys.isCancelRequested(deploy.id)))
        throw new DomainError(ErrorCode.cancelled, 'cancelled');
      const app = await stores.apps.get(deploy.app);
      const release = await stores.releases.create(releaseOf(deps, deploy, app, code, built), early?.version);
      // Another release took a number during the build: the pod named after the reserved one is not this release's.
      if (early && release.version !== early.version)
        early.pod?.discard(`the release is v${release.version}: v${early.version} went to no release`);
      rec.log(`build: image ${built.image} (${built.digest.slice(0, 19)}), release v${release.version}`);
      await rec.flush();
      const { applied } = await stores.deploys.update(deploy.id, () => ({
        status: 'deploying',
        builtAt: new Date().toISOString(),
        release: release.version,
      }));
      if (applied) await deps.enqueueDeploy({ deployId: deploy.id, app: deploy.app, release: release.version });
      else early?.pod?.discard('its deploy ended during the build');
    } catch (error) {
      early?.pod?.discard(`its build ended without a release: ${errorText(error)}`);
      // The build folder goes first: a build that filled the disk must free it before its failure is
      // recorded (Redis refuses every write while its disk is full, and an unrecorded end runs again).
      await rm(workDir, { recursive: true, force: true });
      await handleFailure({ stores, job, deploy, error, aborted: control.signal.aborted, rec });
    } finally {
      deps.cancels.leave(deploy.id);
      await rm(workDir, { recursive: true, force: true });
    }
  };
}

function releaseOf(
  deps: BuildDeps,
  deploy: Deploy,
  app: App,
  code: BuiltCode,
  built: { image: string; digest: string },
): Omit<Release, 'version'> {
  return {
    app: deploy.app,
    image: built.image,
    imageDigest: built.digest,
    runtimeImage: deps.runtimeImage,
    runtimeImageDigest: deps.runtimeImageDigest,
    ...(code.loaderPort !== undefined ? { loaderPort: code.loaderPort } : {}),
    settings: { replicas: app.replicas, resources: app.resources },
    env: app.env,
    manifest: code.manifest,
    createdAt: new Date().toISOString(),
    deployId: deploy.id,
    commit: deploy.commit ?? null,
  };
}

/** What the release's pods are rendered from besides the image: the bundle's manifest, and whether its loader listens. */
interface BuiltCode {
  manifest: BundleManifest;
  loaderPort: number | undefined;
}

/** The release's number, reserved before its build, and its first pod, started meanwhile. */
interface EarlyPod {
  version: number;
  pod: PreparedPod | undefined;
}

/**
 * Where the target can (Target.prepare) and the image's name is known before it exists, the release's
 * number is taken now and its first pod starts while the image builds: the sandbox and the log shipper
 * are up by the time the logic sidecar's image exists. The rollout takes the pod if the app did not
 * change meanwhile. Not starting it early only costs time: a failure here is logged, never fails the build.
 */
async function startPodEarly(
  deps: BuildDeps,
  deploy: Deploy,
  code: BuiltCode,
  log: LogSink,
): Promise<EarlyPod | undefined> {
  const prepare = deps.target?.prepare?.bind(deps.target);
  const image = deps.images.plannedImage?.(deploy.app, deploy.id);
  if (!prepare || image === undefined) return undefined;
  const app = await deps.stores.apps.get(deploy.app);
  if (app.replicas === 0) return undefined;
  const version = await deps.stores.releases.reserve(deploy.app);
  const release: Release = { ...releaseOf(deps, deploy, app, code, { image, digest: '' }), version };
  try {
    return { version, pod: await prepare({ app, release, log }) };
  } catch (e) {
    log(`build: the pod could not start during the build (${errorText(e)}); it starts after it`);
    return { version, pod: undefined };
  }
}
