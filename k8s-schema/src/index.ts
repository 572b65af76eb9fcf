export { CHECKED_KINDS, checkManifest } from './manifest-check.js';
