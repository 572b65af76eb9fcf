import { randomUUID } from 'node:crypto';
import { DelayedError, type Job } from 'bullmq';
import { DeployJobPayload, DomainError, ErrorCode, type Log, type Target } from '@sidecar/core';
import type { Stores } from '@sidecar/store';
import type { CancelRegistry } from '../cancel-registry.js';
import { handleFailure, markCancelled, recorder } from './deploy-state.js';

export interface DeployDeps {
  stores: Stores;
  target: Target;
  cancels: CancelRegistry;
  /** Brings the API's pod views up to date for an app (after a rollout, before success is reported). */
  publishStatus: (app: string) => Promise<void>;
  /** Removes images beyond the retention window after a successful rollout. */
  pruneImages: (app: string, log: (line: string) => void) => Promise<void>;
  /** The worker's operational log (default: nowhere). */
  log?: Log;
  /** Removes a deleted app's images (made before `madeBefore` when an app of that name exists again). */
  removeImages: (app: string, madeBefore: Date | undefined) => Promise<void>;
}

/**
 * Release → pods. One rollout per app at a time (an app lock; a job that finds
 * it taken waits in the delayed set); a release older than the one already
 * serving is superseded, so the newest deploy wins.
 */
export function deployProcessor(deps: DeployDeps) {
  const { stores } = deps;
  return async (job: Job, token?: string, jobSignal?: AbortSignal): Promise<void> => {
    if (job.name === 'remove') return removeApp(deps, String((job.data as { app: string }).app), job, token);
    const payload = DeployJobPayload.parse(job.data);
    const deploy = await stores.deploys.find(payload.deployId);
    // A pod its build started (Target.prepare) goes with a deploy that will not roll out.
    if (!deploy || deploy.status !== 'deploying') return deps.target.discardPrepared?.(payload.deployId);

    // An owner per attempt, not per deploy: a job BullMQ handed to a second worker after a stall must
    // wait for the first attempt's lock, never share it (two rollouts of one app at once).
    const lock = await stores.locks.app(payload.app).tryAcquire(`${deploy.id}@${randomUUID()}`);
    if (!lock) {
      await job.moveToDelayed(Date.now() + 200, token);
      throw new DelayedError();
    }
    const rec = recorder(stores, deploy.id);
    // A lost app lock (it expired while this worker stalled) means another rollout may run: stop this one.
    const control = deps.cancels.enter(deploy.id, jobSignal, lock.lost);
    const started = Date.now();
    try {
      // The three reads at once (each round trip is on a rollback's path to its first pod), judged in this order.
      const [cancelled, current, wanted] = await Promise.allSettled([
        stores.deploys.isCancelRequested(deploy.id),
        stores.apps.get(payload.app),
        stores.releases.get(payload.app, payload.release),
      ]);
      if (valueOf(cancelled)) return await markCancelled(stores, deploy, 'cancelled before the rollout');
      const app = valueOf(current);
      if (app.currentRelease !== null && app.currentRelease > payload.release) {
        throw new DomainError(ErrorCode.superseded, `superseded: v${app.currentRelease} is already serving`);
      }
      const release = valueOf(wanted);
      rec.log(`deploy: rolling out v${release.version} (${app.replicas} replica${app.replicas === 1 ? '' : 's'})`);
      let serving = false;
      // Once the release serves, the app's next rollout may begin while this one's old pods drain and stop.
      const onServing = async () => {
        if (serving) return;
        serving = true;
        await stores.apps.update(app.name, (a) => ({ ...a, currentRelease: release.version, status: 'running' }));
        // Scale to zero's idle clock starts again with the new release.
        await stores.activity.touch(new Map([[app.name, Date.now()]]));
        rec.log(`deploy: v${release.version} is serving (rollout ${Date.now() - started} ms)`);
        await lock.release();
      };
      await deps.target.apply({ app, release, signal: control.signal, log: rec.log, onServing });
      await onServing();
      await deps.publishStatus(app.name);
      rec.log(`deploy: v${release.version} rolled out, previous pods stopped (${Date.now() - started} ms)`);
      await rec.flush();
      await stores.deploys.update(deploy.id, () => ({ status: 'succeeded', finishedAt: new Date().toISOString() }));
      // Housekeeping after success; a failure here is logged, never fails the deploy that just succeeded.
      await deps
        .pruneImages(app.name, (l) => deps.log?.info({ app: app.name }, l))
        .catch((e: unknown) => deps.log?.error({ app: app.name, err: e }, 'image retention failed'));
    } catch (error) {
      // A lost lock is not a cancellation: the attempt fails (retryably) and the job tries again.
      const aborted = control.signal.aborted && !lock.lost.aborted;
      await handleFailure({ stores, job, deploy, error: lock.lost.aborted ? lock.lost.reason : error, aborted, rec });
    } finally {
      deps.cancels.leave(deploy.id);
      // Unless the rollout took it: the pod its build started (a superseded, cancelled or failed rollout).
      deps.target.discardPrepared?.(deploy.id);
      await lock.release();
    }
  };
}

/** Removal waits for a rollout of the app in progress (the same lock), so no rollout re-routes a deleted app. */
async function removeApp(deps: DeployDeps, app: string, job: Job, token: string | undefined): Promise<void> {
  const lock = await deps.stores.locks.app(app).tryAcquire(`remove-${job.id ?? app}`);
  if (!lock) {
    await job.moveToDelayed(Date.now() + 200, token);
    throw new DelayedError();
  }
  try {
    await deps.target.remove(app);
    await deps.publishStatus(app);
    // The pods' last output (e.g. SIGTERM handlers) arrived after the API dropped the log; drop it
    // again now they are gone, unless an app of that name was created meanwhile.
    const again = await deps.stores.apps.find(app);
    if (!again) await deps.stores.appLogs.remove(app);
    // An app of that name created meanwhile was declared to the routers at its creation: the removal took its entry.
    else await deps.stores.routes.declare(app).catch(() => undefined);
    // Its images go too (the disk is the tenant's no longer), never those of an app of that name made since.
    await deps.removeImages(app, again ? new Date(again.createdAt) : undefined);
  } finally {
    await lock.release();
  }
}

/** A settled read's value, or its failure thrown. */
function valueOf<T>(r: PromiseSettledResult<T>): T {
  if (r.status === 'rejected') throw r.reason;
  return r.value;
}
