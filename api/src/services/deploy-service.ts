import type { Readable } from 'node:stream';
import {
  type App,
  type Deploy,
  type DeployCommit,
  type DeploySource,
  DomainError,
  ErrorCode,
  isFinal,
  newDeploy as makeDeploy,
  type Release,
} from '@sidecar/core';
import { BUNDLE_MEDIA_TYPES, parseInput, RollbackBody } from '@sidecar/core/wire';
import type { FsBlobStore, Stores } from '@sidecar/store';
import { newId } from '@sidecar/store';
import type { DeployQueues } from '@sidecar/store/queues';

const BUNDLE_CONTENT_TYPES: ReadonlySet<string> = new Set(BUNDLE_MEDIA_TYPES);

export interface DeployServiceDeps {
  stores: Stores;
  blobs: FsBlobStore;
  queues: DeployQueues;
  maxBundleBytes: number;
}

const newDeploy = (app: string, source: DeploySource, bundleDigest: string | null): Deploy =>
  makeDeploy({ id: newId('d'), app, source, bundleDigest });

export class DeployService {
  constructor(private readonly d: DeployServiceDeps) {}

  /** Stores the bundle, records a queued deploy, supersedes older pending ones (newest wins), enqueues the build. */
  async upload(opts: {
    app: string;
    body: Readable;
    contentType: string | undefined;
    contentLength: number | undefined;
    source: DeploySource;
    commit?: DeployCommit | null;
  }): Promise<Deploy> {
    await this.d.stores.apps.get(opts.app);
    const type = (opts.contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (!BUNDLE_CONTENT_TYPES.has(type)) {
      throw new DomainError(
        ErrorCode.unsupportedMediaType,
        `send the bundle as application/gzip (tar.gz), application/x-tar or application/zip, not ${JSON.stringify(type || 'nothing')}`,
      );
    }
    if (opts.contentLength !== undefined && opts.contentLength > this.d.maxBundleBytes) {
      throw new DomainError(
        ErrorCode.bundleTooLarge,
        `bundle is ${opts.contentLength} bytes; the limit is ${this.d.maxBundleBytes} bytes`,
      );
    }
    const { digest, size } = await this.d.blobs.put(opts.body, this.d.maxBundleBytes);
    if (size === 0)
      throw new DomainError(ErrorCode.bundleInvalid, 'the request body is empty: send the bundle as the body');
    const deploy: Deploy = { ...newDeploy(opts.app, opts.source, digest), commit: opts.commit ?? null };
    await this.supersedeOlder(opts.app);
    await this.d.stores.deploys.create(deploy);
    await this.d.stores.deployLog.append(
      deploy.id,
      `deploy ${deploy.id}: received ${size} bytes (${digest.slice(0, 19)})`,
    );
    await this.d.stores.apps.update(opts.app, (a) => ({ ...a, status: 'deploying' }));
    await this.d.queues.enqueueBuild({ deployId: deploy.id, app: opts.app });
    return deploy;
  }

  /**
   * A new release from an existing one's images, without a build: a config change
   * (the app's current env) or a rollback (that version's env). Serving within a rollout.
   */
  async promote(opts: {
    /** The app as it is now (its replicas and resources go into the release). */
    app: App;
    from: Release;
    env: Record<string, string>;
    source: DeploySource;
    why: string;
  }): Promise<Deploy> {
    const now = new Date().toISOString();
    const { app } = opts;
    const draft = {
      ...newDeploy(app.name, opts.source, null),
      status: 'deploying' as const,
      startedAt: now,
      builtAt: now,
    };
    const { version: _v, imagePruned: _p, ...image } = opts.from;
    const release = await this.d.stores.releases.create({
      ...image,
      env: opts.env,
      settings: { replicas: app.replicas, resources: app.resources },
      createdAt: now,
      deployId: draft.id,
    });
    const deploy: Deploy = { ...draft, release: release.version };
    // No superseding here: a code upload still building must not lose to a config change
    // (it reads the app's env when it finishes); the newest release wins at rollout.
    // Independent writes, sent together: every round trip here is on a rollback's path to its first pod.
    await Promise.all([
      this.d.stores.deploys.create(deploy),
      this.d.stores.deployLog.append(
        deploy.id,
        `deploy ${deploy.id}: ${opts.why}: release v${release.version} reuses the logic image of v${opts.from.version}, no rebuild`,
      ),
    ]);
    await this.d.stores.apps.update(app.name, (a) => ({ ...a, status: 'deploying' }));
    await this.d.queues.enqueueDeploy({ deployId: deploy.id, app: app.name, release: release.version });
    return deploy;
  }

  async rollback(app: string, body: unknown): Promise<Deploy> {
    const { version } = parseInput(RollbackBody, body);
    // Both reads at once; an unknown app is reported before an unknown release.
    const [known, release] = await Promise.allSettled([
      this.d.stores.apps.get(app),
      this.d.stores.releases.get(app, version),
    ]);
    if (known.status === 'rejected') throw known.reason;
    if (release.status === 'rejected') throw release.reason;
    const from = release.value;
    if (from.imagePruned) {
      throw new DomainError(
        ErrorCode.imagePruned,
        `release v${version} is older than the releases whose images are kept (SIDECAR_KEEP_RELEASES); its image was removed`,
      );
    }
    // A rollback restores that release's config too: later changes start from it (as on Heroku).
    const restored = await this.d.stores.apps.update(app, (a) => ({ ...a, env: from.env }));
    return this.promote({ app: restored, from, env: from.env, source: 'rollback', why: `rollback to v${version}` });
  }

  /**
   * Rolls every deployed app onto the platform's current runtime image without
   * rebuilding any logic image (the sidecar pattern's promise). Apps already on it
   * are left alone. Returns the deploys started.
   */
  async rolloutRuntime(): Promise<Deploy[]> {
    const backend = await this.d.stores.platform.backend();
    if (!backend)
      throw new DomainError(
        ErrorCode.notReady,
        'no worker has reported the current runtime image yet; start the platform and try again',
      );
    const { runtimeImage, runtimeImageDigest } = backend;
    const started: Deploy[] = [];
    for (const app of await this.d.stores.apps.list()) {
      if (app.currentRelease === null) continue;
      const from = await this.d.stores.releases.get(app.name, app.currentRelease);
      if (from.runtimeImage === runtimeImage) continue;
      started.push(
        await this.promote({
          // Read again: the list is as it was before this loop's earlier rollouts (a change may have come since).
          app: await this.d.stores.apps.get(app.name),
          from: { ...from, runtimeImage, runtimeImageDigest },
          env: from.env,
          source: 'api',
          why: `runtime upgrade to ${runtimeImage}`,
        }),
      );
    }
    return started;
  }

  async cancel(app: string, id: string): Promise<Deploy> {
    const deploy = await this.d.stores.deploys.get(app, id);
    if (isFinal(deploy.status)) {
      throw new DomainError(
        ErrorCode.deployFinished,
        `deploy ${id} already ended (${deploy.status}); there is nothing to cancel`,
      );
    }
    await this.d.stores.deploys.requestCancel(id);
    if (deploy.status === 'queued' && (await this.d.queues.dropQueuedBuild(id))) {
      return (await this.markCancelled(id, 'cancelled before it started')) ?? deploy;
    }
    return deploy;
  }

  /** Older deploys still waiting or building lose to a newer upload of the same app. */
  private async supersedeOlder(app: string): Promise<void> {
    for (const older of await this.d.stores.deploys.list(app)) {
      if (older.status !== 'queued' && older.status !== 'building') continue;
      await this.d.stores.deploys.requestCancel(older.id);
      if (older.status === 'queued' && (await this.d.queues.dropQueuedBuild(older.id))) {
        await this.markCancelled(older.id, 'superseded by a newer deploy');
      }
    }
  }

  private async markCancelled(id: string, why: string): Promise<Deploy | null> {
    const now = new Date().toISOString();
    await this.d.stores.deployLog.append(id, `deploy ${id}: ${why}`);
    const { deploy } = await this.d.stores.deploys.update(id, () => ({
      status: 'cancelled',
      finishedAt: now,
      error: { code: ErrorCode.cancelled, message: why },
    }));
    return deploy;
  }
}
