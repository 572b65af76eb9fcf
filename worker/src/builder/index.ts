// The build step of the worker: upload → safe folder → dependencies → logic sidecar image.
export { extractBundle, type ExtractBundleOptions, type ExtractedBundle } from './extract.js';
export {
  prepareBundle,
  MANIFEST_PATH,
  type DependencyInstaller,
  type PrepareBundleOptions,
  type PreparedBundle,
} from './prepare.js';
export { NpmDependencyInstaller, NPM_CACHE_VOLUME, type NpmDependencyInstallerOptions } from './dependencies.js';
export { DockerImageBuilder, type DockerImageBuilderOptions, type ImageBuildStrategy } from './image-builder.js';
export type { ArchiveFormat } from './archive-readers.js';
