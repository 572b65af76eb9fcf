import { ApiException } from '@kubernetes/client-node';
import { DomainError, ErrorCode, errorText } from '@sidecar/core';

/** The `Status` object an API server answers errors with (reason, message), when it sent one. */
export interface ApiStatus {
  code: number;
  reason: string;
  message: string;
}

export function apiStatusOf(e: unknown): ApiStatus | undefined {
  if (!(e instanceof ApiException)) return undefined;
  const code = Number(e.code);
  let body: unknown = e.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      body = { message: body };
    }
  }
  const b = (body ?? {}) as { reason?: unknown; message?: unknown };
  return {
    code,
    reason: typeof b.reason === 'string' ? b.reason : '',
    message: typeof b.message === 'string' ? b.message : `HTTP ${code}`,
  };
}

/**
 * One line for a log: the API server's message when it answered with a Status, else the error's
 * (an exec's WebSocket fails with an ErrorEvent, which is no Error but has a message).
 */
export function kubeMessageOf(e: unknown): string {
  const m = apiStatusOf(e)?.message ?? (e as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' ? m : String(e);
}

export const isNotFound = (e: unknown) => apiStatusOf(e)?.code === 404;

/**
 * An API server's answer → the error the deploy reports. What decides is whether doing the
 * same again can help: a conflict, throttling, a server or network error may pass (retryable);
 * missing permissions, a rejected object or a missing namespace need an operator (not retried).
 */
export function kubeError(e: unknown, action: string): Error {
  if (e instanceof DomainError) return e;
  const s = apiStatusOf(e);
  if (!s) {
    // No HTTP answer at all (refused, reset, DNS): the cluster may come back.
    return new DomainError(ErrorCode.deployFailed, `${action}: the Kubernetes API did not answer: ${errorText(e)}`, {
      retryable: true,
      cause: e,
    });
  }
  const detail = `${action}: ${s.message}`;
  switch (s.code) {
    case 401:
      return new DomainError(
        ErrorCode.deployFailed,
        `${detail} (the cluster rejected the worker's credentials; check KUBECONFIG or the ServiceAccount token)`,
        { cause: e },
      );
    case 403:
      return new DomainError(
        ErrorCode.forbidden,
        `${detail} (the worker's ServiceAccount lacks this permission; see the Role in deploy/kubernetes/rbac.yaml)`,
        { cause: e },
      );
    case 404:
      return new DomainError(ErrorCode.notFound, detail, { cause: e });
    case 409:
      return new DomainError(ErrorCode.deployFailed, `${detail} (conflict; a retry applies again)`, {
        retryable: true,
        cause: e,
      });
    case 400:
    case 422:
      return new DomainError(ErrorCode.invalidManifest, `${detail} (the API server rejected the object)`, { cause: e });
    default:
      return new DomainError(ErrorCode.deployFailed, detail, { retryable: s.code === 429 || s.code >= 500, cause: e });
  }
}
