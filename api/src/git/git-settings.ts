import { join } from 'node:path';
import type { ApiConfig } from '@sidecar/core';

/** What `git push` needs beyond the API's own dependencies (docs/git-push.md). */
export interface GitSettings {
  /** Bare repositories live at `<root>/<app>.git`; the platform's hooks at `<root>/.hooks`. */
  root: string;
  /** git's CGI program (Debian: /usr/lib/git-core/git-http-backend). */
  httpBackend: string;
  /** How long a push waits for another push to the same app to finish deploying before it is refused. */
  lockWaitMs: number;
  /** How long a push waits for its deploy to end; then the deploy is cancelled and the push rejected. */
  pushTimeoutMs: number;
  /** The largest pack one push may send (git's receive.maxInputSize). */
  maxPushBytes: number;
  /** The most an app's repository may take on disk; a push that would take it past this is refused. */
  repoQuotaBytes: number;
  /** The node binary the hook runs with (the API's own). */
  nodePath: string;
}

export function gitSettingsFrom(config: ApiConfig): GitSettings {
  return {
    root: join(config.SIDECAR_DATA_DIR, 'git'),
    httpBackend: config.SIDECAR_GIT_HTTP_BACKEND,
    lockWaitMs: config.SIDECAR_GIT_LOCK_WAIT_MS,
    pushTimeoutMs: config.SIDECAR_GIT_PUSH_TIMEOUT_MS,
    maxPushBytes: config.SIDECAR_GIT_MAX_PUSH_BYTES,
    repoQuotaBytes: config.SIDECAR_GIT_REPO_QUOTA_BYTES,
    nodePath: process.execPath,
  };
}
