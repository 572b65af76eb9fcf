import type { Problem } from './types.js';
import { session } from './session.js';

/** An API answer that was not 2xx, carrying the problem+json `code` and `detail`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

/** Called when the API rejects the token (401): the app returns to sign-in with a message. */
let onUnauthorized: (message: string) => void = () => undefined;
export function setUnauthorizedHandler(fn: (message: string) => void): void {
  onUnauthorized = fn;
}

export function authHeaders(extra: Record<string, string> = {}, token = session.token()): Record<string, string> {
  return token ? { authorization: `Bearer ${token}`, ...extra } : extra;
}

export async function problemOf(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let detail = `${res.status} ${res.statusText}`;
  try {
    const p = (await res.json()) as Problem;
    code = p.code ?? code;
    detail = p.detail ?? p.title ?? detail;
  } catch {
    // Not problem+json (a proxy's error page, say): the status line is all there is.
  }
  return new ApiError(res.status, code, detail);
}

/** A 401 means the session's token is bad or expired: sign out and say why. */
export function handleUnauthorized(err: ApiError): void {
  if (err.status === 401) onUnauthorized(`Your token was not accepted (${err.detail}). Sign in again.`);
}

export async function request<T>(
  method: string,
  path: string,
  opts: { body?: unknown; signal?: AbortSignal; token?: string } = {},
): Promise<T> {
  const headers = authHeaders(
    opts.body === undefined ? {} : { 'content-type': 'application/json' },
    opts.token ?? session.token(),
  );
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
  });
  if (!res.ok) {
    const err = await problemOf(res);
    // A token being tried at sign-in is not yet the session's: the form reports it itself.
    if (!opts.token) handleUnauthorized(err);
    throw err;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const api = {
  get: <T>(path: string, signal?: AbortSignal) => request<T>('GET', path, { signal }),
  post: <T>(path: string, body: unknown) => request<T>('POST', path, { body }),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, { body }),
  del: (path: string) => request<void>('DELETE', path),
};

export const appPath = (app: string, rest = ''): string => `/apps/${encodeURIComponent(app)}${rest}`;

export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.detail;
  if (e instanceof Error) return e.message;
  return String(e);
}
