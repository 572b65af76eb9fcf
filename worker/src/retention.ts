import type Docker from 'dockerode';
import { Labels } from '@sidecar/core';
import { PLATFORM_LABEL } from '@sidecar/kubelet';
import type { Stores } from '@sidecar/store';

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
}): Promise<number> {
  const releases = await opts.stores.releases.list(opts.app); // newest first
  const app = await opts.stores.apps.find(opts.app);
  const kept = releases.slice(0, opts.keep);
  const keptImages = new Set([
    ...kept.map((r) => r.image),
    ...releases.filter((r) => r.version === app?.currentRelease).map((r) => r.image),
  ]);
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
