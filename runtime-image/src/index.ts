export { ensurePlatformImages, DEFAULT_HOST_PATHS, type PlatformImages, type EnsureImagesOptions } from './images.js';
export {
  readBuildOutput,
  JsonObjectSplitter,
  ImageBuildError,
  type BuildMessage,
  type BuildResult,
} from './build-output.js';
export { hashContext, packContext, type BuildContext, type ContextEntry } from './build-context.js';
