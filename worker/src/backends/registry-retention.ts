import { errorText, Labels, type Release } from '@sidecar/core';
import { PLATFORM_LABEL } from '@sidecar/kubelet';
import type { ReleaseImageCopies } from '../retention.js';
import { RegistryDeletionRefused, type RegistryClient } from './registry-client.js';

/**
 * The registry's copies of the logic images (`<registry>/<repository>/<app>:<deployId>`), removed as
 * the local ones are: with their app, and past release retention. Deleting a manifest frees no disk
 * by itself: its blobs go at the registry's next garbage collection (deploy/kubernetes/registry.yaml
 * runs one each time the registry starts). A registry that refuses deletion (405) is said once per
 * call, as a warning, and nothing fails: the images stay, as before.
 */
export class RegistryImages {
  constructor(
    private readonly opts: {
      client: RegistryClient;
      /** SIDECAR_REGISTRY (host[:port]): the releases' image tags start with it. */
      registry: string;
      /** The logic images' repository prefix (the builder's, `sidecar-app`). */
      repository: string;
      platformId: string;
    },
  ) {}

  /**
   * Deletes the deleted app's manifests: every tag of its repository whose image this platform built
   * for that app (its labels), made before `madeBefore` when an app of that name was created since.
   *
   * Decided on the image config's `created` and labels (read from the registry), not on release
   * records: the deleted app's records went with it, the new app's do not yet name an image its
   * build has pushed but not recorded, and a registry shared by two platforms holds both platforms'
   * images under the same repository name (only the label tells them apart). A manifest another
   * kept tag also names is kept (deletion by digest removes every tag of it). Returns how many went.
   */
  async removeApp(app: string, o: { madeBefore?: Date | undefined; warn: (line: string) => void }): Promise<number> {
    const repo = `${this.opts.repository}/${app}`;
    const cutoff = o.madeBefore?.getTime() ?? Number.POSITIVE_INFINITY;
    const doomed = new Set<string>();
    const kept = new Set<string>();
    for (const tag of await this.opts.client.tags(repo)) {
      const digest = await this.opts.client.digestOf(repo, tag);
      if (!digest) continue;
      const config = await this.opts.client.imageConfig(repo, digest);
      const ours =
        config !== undefined &&
        config.labels[Labels.kind] === 'logic-image' &&
        config.labels[Labels.app] === app &&
        config.labels[PLATFORM_LABEL] === this.opts.platformId &&
        config.created < cutoff; // NaN (no `created`) is never before: kept
      (ours ? doomed : kept).add(digest);
    }
    let removed = 0;
    for (const digest of doomed) {
      if (kept.has(digest)) continue;
      try {
        await this.opts.client.deleteManifest(repo, digest);
        removed++;
      } catch (e) {
        if (!(e instanceof RegistryDeletionRefused)) throw e;
        o.warn(`app ${app} deleted: its images stay in the registry: ${e.message}`);
        break;
      }
    }
    return removed;
  }

  /**
   * For one retention pass: deletes a pruned release's manifest, unless a kept release has the same
   * digest. A release whose image is not in this registry has nothing there. On a refusal (405) the
   * pass warns once and leaves the rest of its releases unpruned, to be tried by a later pass.
   */
  prunePass(warn: (line: string) => void): ReleaseImageCopies {
    let refused = false;
    return {
      remove: async (release: Release, keptDigests: ReadonlySet<string>) => {
        const ref = this.repoOf(release.image);
        if (ref === undefined || keptDigests.has(release.imageDigest)) return true;
        if (refused) return false;
        try {
          await this.opts.client.deleteManifest(ref.repo, release.imageDigest);
          return true;
        } catch (e) {
          if (e instanceof RegistryDeletionRefused) {
            refused = true;
            warn(`retention: the images stay in the registry: ${e.message}`);
          } else warn(`retention: v${release.version} stays in the registry for now: ${errorText(e)}`);
          return false;
        }
      },
    };
  }

  /** `<registry>/<repo>:<tag>` → the repository (undefined for an image elsewhere). */
  private repoOf(image: string): { repo: string } | undefined {
    const prefix = `${this.opts.registry}/`;
    if (!image.startsWith(prefix)) return undefined;
    const name = image.slice(prefix.length);
    const colon = name.lastIndexOf(':');
    return { repo: colon > name.lastIndexOf('/') ? name.slice(0, colon) : name };
  }
}
