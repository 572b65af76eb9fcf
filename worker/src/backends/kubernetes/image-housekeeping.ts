import type Docker from 'dockerode';
import type { Log, Release, WorkerConfig } from '@sidecar/core';
import type { Stores } from '@sidecar/store';
import { LOGIC_IMAGE_REPOSITORY } from '../../builder/image-builder.js';
import { localImageHousekeeping, type ImageHousekeeping, type ReleaseImageCopies } from '../../retention.js';
import { registryAuthOf } from '../registry.js';
import { RegistryClient } from '../registry-client.js';
import { RegistryImages } from '../registry-retention.js';
import { registryBaseUrl } from '../registry-scheme.js';

/**
 * On a cluster a logic image lives in three places: the build engine under the tag it was built
 * with (`sidecar-app/<app>:<deploy>`), the same engine under the pushed tag (the release's image),
 * and the registry the nodes pull from. Retention and app deletion remove all three; the registry's
 * manifests at once, their blobs at the registry's next start (registry.yaml's garbage collection).
 */
export async function kubernetesImageHousekeeping(o: {
  config: Pick<
    WorkerConfig,
    'SIDECAR_PLATFORM_ID' | 'SIDECAR_KEEP_RELEASES' | 'SIDECAR_REGISTRY_USERNAME' | 'SIDECAR_REGISTRY_PASSWORD'
  >;
  docker: Docker;
  stores: Stores;
  log: Log;
  /** SIDECAR_REGISTRY */
  registry: string;
}): Promise<ImageHousekeeping> {
  const { config, docker, registry, log } = o;
  const images = new RegistryImages({
    client: new RegistryClient({ baseUrl: await registryBaseUrl(docker, registry), auth: registryAuthOf(config) }),
    registry,
    repository: LOGIC_IMAGE_REPOSITORY,
    platformId: config.SIDECAR_PLATFORM_ID,
  });
  const local = localImageHousekeeping({
    docker,
    stores: o.stores,
    platformId: config.SIDECAR_PLATFORM_ID,
    keep: config.SIDECAR_KEEP_RELEASES,
    log,
    copies: (say) => {
      const pass = images.prunePass(say);
      return {
        remove: async (release, kept) =>
          (await removeBuildTag(docker, registry, release)) && pass.remove(release, kept),
      } satisfies ReleaseImageCopies;
    },
  });
  return {
    prune: local.prune,
    removeApp: async (app, madeBefore) => {
      // The engine's images first: a registry that does not answer must not keep the engine's disk full.
      await local.removeApp(app, madeBefore);
      const removed = await images.removeApp(app, { madeBefore, warn: (l) => log.warn({ app }, l) });
      if (removed > 0) log.info({ app }, `app ${app} deleted: removed ${removed} image(s) from the registry`);
    },
  };
}

/**
 * The tag the image was built with: the release names the pushed tag, and removing that only untags
 * the image while the build tag holds it. False when the engine still uses it (try again later).
 */
async function removeBuildTag(docker: Docker, registry: string, release: Release): Promise<boolean> {
  if (!release.image.startsWith(`${registry}/`)) return true;
  try {
    await docker.getImage(release.image.slice(registry.length + 1)).remove();
    return true;
  } catch (e) {
    const status = (e as { statusCode?: number }).statusCode;
    if (status === 404) return true;
    if (status === 409) return false;
    throw e;
  }
}
