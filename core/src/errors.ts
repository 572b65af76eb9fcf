/**
 * Domain errors. Each carries a stable machine `code`; `api` maps codes to HTTP
 * in exactly one place, the worker decides from `retryable` whether to retry.
 */
export const ErrorCode = {
  invalidName: 'invalid_name',
  invalidRequest: 'invalid_request',
  appNotFound: 'app_not_found',
  appExists: 'app_exists',
  deployNotFound: 'deploy_not_found',
  podNotFound: 'pod_not_found',
  releaseNotFound: 'release_not_found',
  jobNotFound: 'job_not_found',
  tokenNotFound: 'token_not_found',
  tokenInUse: 'token_in_use',
  noRelease: 'no_release',
  imagePruned: 'image_pruned',
  bundleTooLarge: 'bundle_too_large',
  bundleInvalid: 'bundle_invalid',
  unsupportedMediaType: 'unsupported_media_type',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  notFound: 'not_found',
  buildFailed: 'build_failed',
  deployFailed: 'deploy_failed',
  cancelled: 'cancelled',
  deployFinished: 'deploy_finished',
  superseded: 'superseded',
  notReady: 'not_ready',
  /** Too many of something at once (log followers, jobs): try again later. */
  rateLimited: 'rate_limited',
  /** A request asks for more than a platform maximum allows (memory, CPU, replicas, env size): the message names it. */
  limitExceeded: 'limit_exceeded',
  /** A tenant already holds as many of something as a platform quota allows (apps, running jobs): the message names it. */
  quotaExceeded: 'quota_exceeded',
  /** The platform's state store (Redis) does not answer: try again shortly. */
  storeUnavailable: 'store_unavailable',
  /**
   * The platform's disk is full (its data dir: bundles, builds, the state store's append-only file):
   * writes are refused until space is freed; reads keep working.
   */
  insufficientStorage: 'insufficient_storage',
  invalidManifest: 'invalid_manifest',
  /** A setting this platform's target cannot honour (scale to zero on Kubernetes). */
  unsupported: 'unsupported',
  internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class DomainError extends Error {
  readonly code: ErrorCode;
  /** Whether doing the same thing again could succeed (a daemon hiccup) or not (a user's broken bundle). */
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'DomainError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;

/** An error (or anything thrown) as one line of text for a log or a message. */
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
