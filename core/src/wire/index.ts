/**
 * The API's wire contract: the zod schemas requests are validated with and the shapes answers
 * have. The API validates with them and generates its OpenAPI document from them; the dashboard
 * and the CLI take their types from here. Pure: zod only.
 */
export * from './apps.js';
export * from './common.js';
export * from './deploys.js';
export * from './git.js';
export * from './health.js';
export * from './jobs.js';
export * from './logs.js';
export * from './manifests.js';
export * from './metrics.js';
export * from './parse.js';
export * from './pods.js';
export * from './tokens.js';
