import { UnrecoverableError, type Job } from 'bullmq';
import { type Deploy, DomainError, ErrorCode, isDomainError, errorText } from '@sidecar/core';
import { isStoreOutOfDisk, type Stores } from '@sidecar/store';

/** What a processor needs to record a deploy's progress. */
export interface DeployRecorder {
  log(line: string): void;
  /** Resolves once every log line so far is stored. */
  flush(): Promise<void>;
}

/** A deploy log writer that keeps line order without awaiting each write on the hot path. */
export function recorder(stores: Stores, deployId: string): DeployRecorder {
  let chain: Promise<void> = Promise.resolve();
  return {
    log(line) {
      for (const l of line.split(/\r?\n/)) {
        if (l.trim() === '') continue;
        chain = chain.then(() => stores.deployLog.append(deployId, l)).catch(() => undefined);
      }
    },
    flush: () => chain,
  };
}

const now = () => new Date().toISOString();

export async function markCancelled(stores: Stores, deploy: Deploy, why: string): Promise<void> {
  await stores.deployLog.append(deploy.id, `deploy ${deploy.id}: ${why}`);
  await stores.deploys.update(deploy.id, () => ({
    status: 'cancelled',
    finishedAt: now(),
    error: { code: ErrorCode.cancelled, message: why },
  }));
  await settleAppStatus(stores, deploy.app);
}

export async function markFailed(stores: Stores, deploy: Deploy, code: string, message: string): Promise<void> {
  await stores.deployLog.append(deploy.id, `deploy ${deploy.id} failed: ${message}`);
  await stores.deploys.update(deploy.id, () => ({ status: 'failed', finishedAt: now(), error: { code, message } }));
  await settleAppStatus(stores, deploy.app);
}

/** After a deploy ends without success, the app is "running" if an older release still serves, else "failed". */
async function settleAppStatus(stores: Stores, app: string): Promise<void> {
  const pending = (await stores.deploys.list(app)).some((d) => ['queued', 'building', 'deploying'].includes(d.status));
  await stores.apps
    .update(app, (a) => ({ ...a, status: pending ? 'deploying' : a.currentRelease !== null ? 'running' : 'failed' }))
    .catch((e: unknown) => {
      if (!(isDomainError(e) && e.code === ErrorCode.appNotFound)) throw e;
    });
}

/**
 * A failure for lack of disk space: a write into the data dir (`ENOSPC`: a bundle unpacked, a build
 * folder), the state store unable to write its append-only file, or the engine's own disk in a build.
 */
function outOfDisk(e: unknown): boolean {
  return (
    (e as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC' ||
    isStoreOutOfDisk(e) ||
    /no space left on device/i.test(errorText(e))
  );
}

/** The local Docker engine's socket refused or is gone: the engine is stopped or restarting. */
function engineAway(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException & { address?: unknown };
  return err?.syscall === 'connect' && typeof err.address === 'string' && err.address.endsWith('docker.sock');
}

/** The failure as one line, saying plainly what it means when it is the platform's disk or engine. */
function failureText(e: unknown): string {
  if (outOfDisk(e)) return `the platform's disk is full: ${errorText(e)}`;
  if (engineAway(e)) return `the Docker engine does not answer (stopped or restarting?): ${errorText(e)}`;
  return errorText(e);
}

/**
 * The one error policy of both processors (BullMQ's UnrecoverableError idea):
 * a user's mistake fails the deploy at once; a cancellation ends it as cancelled;
 * anything else is transient and retried with backoff until the last attempt.
 */
export async function handleFailure(opts: {
  stores: Stores;
  job: Job;
  deploy: Deploy;
  error: unknown;
  aborted: boolean;
  rec: DeployRecorder;
}): Promise<never> {
  const { stores, job, deploy, error, rec } = opts;
  await rec.flush();
  if (
    opts.aborted ||
    (isDomainError(error) && (error.code === ErrorCode.cancelled || error.code === ErrorCode.superseded))
  ) {
    const why = isDomainError(error) && error.code === ErrorCode.superseded ? error.message : 'cancelled';
    await markCancelled(stores, deploy, why);
    throw new UnrecoverableError(why);
  }
  // Retried like any transient error (space or the engine may come back), and said plainly if not.
  const diskFull = outOfDisk(error);
  const message = failureText(error);
  if (isDomainError(error) && !error.retryable) {
    await markFailed(stores, deploy, error.code, message);
    throw new UnrecoverableError(message);
  }
  const attempts = job.opts.attempts ?? 1;
  if (job.attemptsMade + 1 >= attempts) {
    const code = diskFull ? ErrorCode.insufficientStorage : ErrorCode.internal;
    await markFailed(stores, deploy, code, `${message} (gave up after ${attempts} attempts)`);
    throw new UnrecoverableError(message);
  }
  await stores.deployLog.append(
    deploy.id,
    `transient error, will retry (attempt ${job.attemptsMade + 1} of ${attempts}): ${message}`,
  );
  throw error instanceof Error ? error : new DomainError(ErrorCode.internal, message, { retryable: true });
}
