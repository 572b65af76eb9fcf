import { setTimeout as delay } from 'node:timers/promises';
import type { Pod, PodView } from '@sidecar/core';
import { jobPod, type JobManifest, type JobStatus } from './job.js';
import { cliEvent, type RunOutput } from './output.js';
import { DeletionRequested, type Deletion, type PodResult } from './pod-supervisor.js';

export interface RunJobOptions {
  job: JobManifest;
  output: RunOutput;
  /** Process-wide stop (signals, --timeout, activeDeadlineSeconds, `pod delete`): no further pods. */
  stop: AbortController;
  backoffScale: number;
  keep: boolean;
  /** Runs one pod of the Job to its end (pod-supervisor), after the caller's checks. */
  runPod: (pod: Pod, deleteWhen: ((v: PodView) => Deletion | undefined) | undefined) => Promise<PodResult>;
}

/** The Job controller's pod-failure back-off: 10 s doubling, capped at 6 min (scaled like the kubelet's). */
const JOB_BACKOFF_MS = 10_000;
const JOB_BACKOFF_MAX_MS = 360_000;

/**
 * Runs a Job the way the Job controller would with completions = parallelism = 1: one pod at a
 * time until one Succeeds. restartPolicy Never: a failed pod is replaced by a new one after the
 * back-off until more than `backoffLimit` pods failed. OnFailure: the kubelet restarts containers in
 * the pod; once their restarts reach `backoffLimit` the pod is deleted and the Job fails.
 * `activeDeadlineSeconds` counts from the start and deletes the running pod.
 */
export async function runJob(opts: RunJobOptions): Promise<{ status: PodView; job: JobStatus; ok: boolean }> {
  const { job, output, stop } = opts;
  const status: JobStatus = {
    name: job.name,
    startTime: new Date().toISOString(),
    completionTime: null,
    active: 0,
    succeeded: 0,
    failed: 0,
    conditions: [],
  };
  const deadline =
    job.activeDeadlineSeconds === undefined
      ? undefined
      : setTimeout(() => {
          stop.abort(
            new DeletionRequested({
              reason: 'DeadlineExceeded',
              message: `Job was active longer than specified deadline (${job.activeDeadlineSeconds}s)`,
              gracePeriodSeconds: undefined,
              remove: !opts.keep,
            }),
          );
        }, job.activeDeadlineSeconds * 1000);
  const fail = (reason: string, message: string) => {
    status.conditions.push({ type: 'Failed', status: 'True', reason, message });
  };
  try {
    for (;;) {
      const pod = jobPod(job);
      output.event(cliEvent('SuccessfulCreate', `Created pod: ${pod.metadata.name}`));
      status.active = 1;
      const result = await opts.runPod(
        pod,
        job.restartPolicy === 'OnFailure' ? (v) => backoffLimitReached(v, job, opts.keep) : undefined,
      );
      status.active = 0;
      if (result.deletedBy) {
        status.failed++;
        fail(result.deletedBy.reason === 'Deleting' ? 'PodDeleted' : result.deletedBy.reason, result.deletedBy.message);
        return { status: result.status, job: status, ok: false };
      }
      if (result.status.phase === 'Succeeded') {
        status.succeeded = 1;
        status.completionTime = new Date().toISOString();
        status.conditions.push({ type: 'Complete', status: 'True' });
        output.event(cliEvent('Completed', 'Job completed'));
        return { status: result.status, job: status, ok: true };
      }
      status.failed++;
      if (status.failed > job.backoffLimit) {
        fail('BackoffLimitExceeded', 'Job has reached the specified backoff limit');
        output.event(cliEvent('BackoffLimitExceeded', 'Job has reached the specified backoff limit'));
        return { status: result.status, job: status, ok: false };
      }
      const wait = Math.min(JOB_BACKOFF_MS * 2 ** (status.failed - 1), JOB_BACKOFF_MAX_MS) * opts.backoffScale;
      await delay(wait, undefined, { signal: stop.signal }).catch((e: unknown) => {
        if (!stop.signal.aborted) throw e;
      });
      const reason: unknown = stop.signal.reason;
      if (reason instanceof DeletionRequested) {
        // Stopped between two pods: nothing runs, the Job ends failed.
        fail(reason.deletion.reason === 'Deleting' ? 'PodDeleted' : reason.deletion.reason, reason.deletion.message);
        output.event(cliEvent(reason.deletion.reason, `${reason.deletion.message}; no further pods`));
        return { status: result.status, job: status, ok: false };
      }
    }
  } finally {
    clearTimeout(deadline);
  }
}

/** Job controller `pastBackoffLimitOnFailure`: container restarts (init and sidecar ones too) reach the limit (0: any). */
function backoffLimitReached(v: PodView, job: JobManifest, keep: boolean): Deletion | undefined {
  const restarts = [...v.initContainerStatuses, ...v.containerStatuses].reduce((n, s) => n + s.restartCount, 0);
  const reached = job.backoffLimit === 0 ? restarts > 0 : restarts >= job.backoffLimit;
  if (!reached) return undefined;
  return {
    reason: 'BackoffLimitExceeded',
    message: 'Job has reached the specified backoff limit',
    gracePeriodSeconds: undefined,
    remove: !keep,
  };
}
