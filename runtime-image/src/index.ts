export {
  ensurePlatformImages,
  DEFAULT_HOST_PATHS,
  type PlatformImages,
  type EnsureImagesOptions,
} from './images/images.js';
export {
  readBuildOutput,
  JsonObjectSplitter,
  ImageBuildError,
  type BuildMessage,
  type BuildResult,
} from './images/build-output.js';
export { hashContext, packContext, type BuildContext, type ContextEntry } from './images/build-context.js';
