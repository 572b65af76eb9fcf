import { ApiError, authHeaders, handleUnauthorized } from './client.js';
import type { Deploy, Problem } from './types.js';

/**
 * Uploads a bundle as a dashboard deploy. XMLHttpRequest, not fetch, because
 * only XHR reports upload progress.
 */
export function uploadBundle(opts: {
  app: string;
  body: Blob;
  contentType: 'application/gzip' | 'application/x-tar' | 'application/zip';
  onProgress: (loaded: number, total: number) => void;
}): Promise<Deploy> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/apps/${encodeURIComponent(opts.app)}/deploys`);
    for (const [k, v] of Object.entries(
      authHeaders({ 'content-type': opts.contentType, 'x-sidecar-source': 'dashboard' }),
    )) {
      xhr.setRequestHeader(k, v);
    }
    xhr.upload.onprogress = (e) => opts.onProgress(e.loaded, e.lengthComputable ? e.total : opts.body.size);
    xhr.onerror = () => reject(new Error('the upload failed: the API could not be reached'));
    xhr.onload = () => {
      let json: unknown = null;
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        // handled below: a non-JSON answer is an error
      }
      if (xhr.status === 202 && json) {
        resolve(json as Deploy);
        return;
      }
      const p = (json ?? {}) as Partial<Problem>;
      const err = new ApiError(xhr.status, p.code ?? `http_${xhr.status}`, p.detail ?? `upload answered ${xhr.status}`);
      handleUnauthorized(err);
      reject(err);
    };
    xhr.send(opts.body);
  });
}
