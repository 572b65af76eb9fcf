import type { BundleManifest } from './bundle-rules.js';

/** An immutable release: everything a pod of this version is rendered from. */
export interface Release {
  version: number;
  app: string;
  /** The logic sidecar image, by tag. */
  image: string;
  imageDigest: string;
  runtimeImage: string;
  env: Record<string, string>;
  manifest: BundleManifest;
  createdAt: string;
  deployId: string;
}
