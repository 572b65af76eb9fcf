import type { ErrorRequestHandler, Response } from 'express';
import { DomainError, ErrorCode, isDomainError, type Log } from '@sidecar/core';
import { isStoreOutOfDisk, isStoreUnavailable } from '@sidecar/store';

/** The one place domain error codes become HTTP statuses (RFC 9457 problem+json). */
const STATUS: Record<ErrorCode, number> = {
  invalid_name: 400,
  invalid_request: 400,
  invalid_manifest: 400,
  bundle_invalid: 400,
  bundle_too_large: 413,
  unsupported_media_type: 415,
  unauthorized: 401,
  forbidden: 403,
  app_not_found: 404,
  deploy_not_found: 404,
  pod_not_found: 404,
  release_not_found: 404,
  job_not_found: 404,
  token_not_found: 404,
  token_in_use: 409,
  no_release: 409,
  image_pruned: 409,
  not_found: 404,
  app_exists: 409,
  cancelled: 409,
  deploy_finished: 409,
  superseded: 409,
  build_failed: 422,
  deploy_failed: 422,
  not_ready: 503,
  rate_limited: 429,
  limit_exceeded: 422,
  unsupported: 422,
  quota_exceeded: 429,
  store_unavailable: 503,
  insufficient_storage: 507,
  internal: 500,
};

/** The HTTP status of a domain error code, for transports that answer in their own format (git's text/plain). */
export const statusOf = (code: ErrorCode): number => STATUS[code];

const TITLES: Partial<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

export function sendProblem(res: Response, status: number, code: string, detail: string): void {
  res
    .status(status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: `https://sidecar.dev/problems/${code}`,
        title: TITLES[status] ?? 'Error',
        status,
        detail,
        code,
      }),
    );
}

/** Errors from express's own body parsers carry `status`/`type`; they are the client's fault. */
interface HttpishError {
  status?: number;
  statusCode?: number;
  type?: string;
  message: string;
}

/** The last error handler: every error as problem+json; unexpected ones logged with their stack to `log`. */
export const problemHandler =
  (log: Log): ErrorRequestHandler =>
  (err: unknown, req, res, _next) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (isDomainError(err)) return sendProblem(res, STATUS[err.code], err.code, err.message);
    if (isStoreUnavailable(err)) {
      res.set('Retry-After', '2');
      return sendProblem(
        res,
        503,
        ErrorCode.storeUnavailable,
        "the platform's state store (Redis) does not answer; try again shortly",
      );
    }
    if (isStoreOutOfDisk(err))
      return sendProblem(
        res,
        507,
        ErrorCode.insufficientStorage,
        "the platform's state store (Redis) cannot write to its disk, which is full; writes are refused until space is freed",
      );
    const h = err as HttpishError;
    const status = h.status ?? h.statusCode;
    if (status && status >= 400 && status < 500) {
      const code =
        h.type === 'entity.too.large'
          ? ErrorCode.bundleTooLarge
          : h.type === 'entity.parse.failed'
            ? 'invalid_json'
            : 'bad_request';
      return sendProblem(
        res,
        status,
        code,
        status === 400 && code === 'invalid_json' ? 'request body is not valid JSON' : h.message,
      );
    }
    // Never a stack trace to the client; the log gets it.
    log.error({ err, reqId: (req as { id?: string }).id, method: req.method, path: req.path }, 'unexpected error');
    sendProblem(res, 500, ErrorCode.internal, 'internal error; see the platform log');
  };

export const notFound = (detail: string) => new DomainError(ErrorCode.notFound, detail);
