// The build step of the worker: upload → safe folder → dependencies → logic sidecar image.
export { extractBundle, type ExtractBundleOptions, type ExtractedBundle } from './extract.js';
export {
  prepareBundle,
  MANIFEST_PATH,
  type DependencyInstaller,
  type PrepareBundleOptions,
  type PreparedBundle,
} from './prepare.js';
export { NpmDependencyInstaller, DEFAULT_NPM_REGISTRY, type NpmDependencyInstallerOptions } from './dependencies.js';
export { sweepBuildContainers, sweepBuildLeftovers, type BuildLeftoversOptions } from './build-leftovers.js';
export {
  DockerImageBuilder,
  imageBuildStrategyOf,
  loaderPortOf,
  type DockerImageBuilderOptions,
  type ImageBuildStrategy,
} from './image-builder.js';
export type { ArchiveFormat } from './archive-readers.js';
