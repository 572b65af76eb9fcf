import type { BundleManifest } from './bundle-rules.js';
import type { DeployCommit } from './deploy.js';

/** An immutable release: everything a pod of this version is rendered from. */
export interface Release {
  version: number;
  app: string;
  /** The logic sidecar image, by tag. */
  image: string;
  imageDigest: string;
  runtimeImage: string;
  /** The runtime image's content digest (image id) when the release was made: which runtime exactly ran it. */
  runtimeImageDigest?: string | null;
  env: Record<string, string>;
  /** The app settings the release was made with (for the record; the app's current settings apply). */
  settings?: { replicas: number; resources: { memory: string; cpu: string } };
  manifest: BundleManifest;
  createdAt: string;
  deployId: string;
  /** The commit this release's code was built from (`git push`); carried over by config changes and rollbacks. */
  commit?: DeployCommit | null;
  /**
   * Where its logic sidecar's loader listens once the logic is in place: the startup probe is then a TCP
   * connect. Absent for logic images built from a base whose loader did not listen (probed by the marker file).
   */
  loaderPort?: number;
  /** Set when retention removed the logic image (older than the last N releases); such a release cannot be rolled back to. */
  imagePruned?: boolean;
}
