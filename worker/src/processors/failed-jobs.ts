import type { Job } from 'bullmq';
import { ErrorCode, isFinal } from '@sidecar/core';
import type { Stores } from '@sidecar/store';
import { markFailed } from './deploy-state.js';

/**
 * Ends the deploy (or one-off job) of a queue job that BullMQ has failed for
 * good. The processors normally record failures themselves; this catches what
 * they cannot: a job that stalled more often than allowed (its worker kept
 * dying) or one that threw before its deploy was loaded. A retry still pending
 * is left alone.
 */
export async function settleFailedJob(stores: Stores, job: Job, err: Error): Promise<void> {
  if ((await job.getState()) !== 'failed') return;
  const data = job.data as { deployId?: unknown; jobId?: unknown };
  if (typeof data.deployId === 'string') {
    const deploy = await stores.deploys.find(data.deployId);
    if (deploy && !isFinal(deploy.status))
      await markFailed(stores, deploy, ErrorCode.internal, `the platform gave up on this deploy: ${err.message}`);
  } else if (typeof data.jobId === 'string') {
    await stores.jobs.update(data.jobId, {
      status: 'failed',
      error: `the platform gave up on this job: ${err.message}`,
      finishedAt: new Date().toISOString(),
    });
  }
}
