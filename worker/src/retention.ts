import type Docker from 'dockerode';
import { Labels, type Log, type Release } from '@sidecar/core';
import { PLATFORM_LABEL } from '@sidecar/kubelet';
import type { Stores } from '@sidecar/store';

/** Another place a release's image is kept (the registry on Kubernetes), pruned with the local image. */
export interface ReleaseImageCopies {
  /**
   * Removes the other copies of `release`'s image; never one whose digest is in `keptDigests` (a kept
   * release's). False: not now, so the release is not marked pruned and a later pass tries again.
   */
  remove(release: Release, keptDigests: ReadonlySet<string>): Promise<boolean>;
}

/**
 * Keeps the logic images of an app's newest `keep` releases (and any image one of
 * them shares, e.g. after a config change or rollback) and removes older ones.
 * An image Docker still uses (a running pod) is left for a later pass.
 */
export async function pruneReleaseImages(opts: {
  docker: Docker;
  stores: Stores;
  app: string;
  keep: number;
  log?: (line: string) => void;
  copies?: ReleaseImageCopies;
}): Promise<number> {
  const releases = await opts.stores.releases.list(opts.app); // newest first
  const app = await opts.stores.apps.find(opts.app);
  const kept = releases.slice(0, opts.keep);
  const keptReleases = [...kept, ...releases.filter((r) => r.version === app?.currentRelease)];
  const keptImages = new Set(keptReleases.map((r) => r.image));
  const keptDigests = new Set(keptReleases.map((r) => r.imageDigest));
  let removed = 0;
  for (const r of releases.slice(opts.keep)) {
    if (r.imagePruned) continue;
    if (keptImages.has(r.image)) continue;
    try {
      await opts.docker.getImage(r.image).remove();
      removed++;
    } catch (e) {
      const status = (e as { statusCode?: number }).statusCode;
      if (status === 409) continue; // in use by a container: not now
      if (status !== 404) throw e;
    }
    if (opts.copies && !(await opts.copies.remove(r, keptDigests))) continue;
    await opts.stores.releases.markPruned(opts.app, r.version);
    opts.log?.(`retention: removed the image of v${r.version} (${r.image})`);
  }
  // The records themselves: a bounded history per app in Redis (never the current release).
  const forgotten = await opts.stores.releases.retain(opts.app, {
    keepNewest: Math.max(RELEASE_RECORDS_KEPT, opts.keep),
    alsoKeep: [app?.currentRelease ?? null],
  });
  if (forgotten > 0) opts.log?.(`retention: forgot ${forgotten} old release record(s)`);
  return removed;
}

/** Release records kept per app (their images are long gone: only the newest SIDECAR_KEEP_RELEASES keep theirs). */
export const RELEASE_RECORDS_KEPT = 100;

/**
 * The logic images of a deleted app (its release records went with it): every image this platform
 * built for the app (labelled with the app and SIDECAR_PLATFORM_ID; another platform on the same
 * engine may have an app of that name), made before `madeBefore` — an app of the same name created
 * since keeps its own. Run once the app's pods are gone; an image still in use is left (logged).
 */
export async function removeAppImages(opts: {
  docker: Docker;
  app: string;
  platformId: string;
  madeBefore?: Date;
  log?: (line: string) => void;
}): Promise<number> {
  const images = await opts.docker.listImages({
    filters: {
      label: [
        `${Labels.managed}=true`,
        `${Labels.app}=${opts.app}`,
        `${Labels.kind}=logic-image`,
        `${PLATFORM_LABEL}=${opts.platformId}`,
      ],
    },
  });
  const cutoff = opts.madeBefore ? opts.madeBefore.getTime() / 1000 : Number.POSITIVE_INFINITY;
  let removed = 0;
  for (const image of images.filter((i) => i.Created < cutoff)) {
    try {
      await opts.docker.getImage(image.Id).remove({ force: true });
      removed++;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) continue;
      opts.log?.(
        `app ${opts.app} deleted: its image ${image.Id.slice(7, 19)} was not removed: ${(e as Error).message}`,
      );
    }
  }
  return removed;
}

/** What happens to logic images after a rollout and after an app's deletion: one per backend (Backend.images). */
export interface ImageHousekeeping {
  /** Release retention after a successful rollout (SIDECAR_KEEP_RELEASES). */
  prune(app: string, log: (line: string) => void): Promise<void>;
  /** A deleted app's images, once its pods are gone (made before `madeBefore` when an app of that name exists again). */
  removeApp(app: string, madeBefore: Date | undefined): Promise<void>;
}

/** The images on the worker's engine: what both backends do there. `copies` adds another place (the registry). */
export function localImageHousekeeping(opts: {
  docker: Docker;
  stores: Stores;
  platformId: string;
  keep: number;
  log: Log;
  copies?: (log: (line: string) => void) => ReleaseImageCopies;
}): ImageHousekeeping {
  const { docker, stores, platformId, keep, log } = opts;
  return {
    prune: async (app, say) => {
      await pruneReleaseImages({
        docker,
        stores,
        app,
        keep,
        log: say,
        ...(opts.copies ? { copies: opts.copies(say) } : {}),
      });
    },
    removeApp: async (app, madeBefore) => {
      const removed = await removeAppImages({
        docker,
        app,
        platformId,
        ...(madeBefore ? { madeBefore } : {}),
        log: (l) => log.warn({ app }, l),
      });
      if (removed > 0) log.info({ app }, `app ${app} deleted: removed ${removed} image(s)`);
    },
  };
}
