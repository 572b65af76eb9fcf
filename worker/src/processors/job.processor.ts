import type { Job as QueueJob } from 'bullmq';
import { JobRunPayload, type Target, errorText } from '@sidecar/core';

/** `90 s`, `5 min`, `1 h`: how a time limit reads in a job's error. */
const formatDuration = (ms: number) =>
  ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
import type { Stores } from '@sidecar/store';

export interface JobDeps {
  stores: Stores;
  target: Target;
  /** A job still running after this long is stopped and fails (SIDECAR_JOB_TIME_LIMIT_MS). */
  timeLimitMs: number;
}

/**
 * Runs a one-off command as a Job pod. Never twice: a job found already
 * "running" belonged to a worker that died mid-run, so it is failed visibly
 * instead of being started again.
 */
export function jobProcessor(deps: JobDeps) {
  const { stores } = deps;
  return async (qjob: QueueJob, _token?: string, signal?: AbortSignal): Promise<void> => {
    const { jobId } = JobRunPayload.parse(qjob.data);
    const job = await stores.jobs.find(jobId);
    if (!job || job.status === 'succeeded' || job.status === 'failed') return;
    const now = () => new Date().toISOString();
    if (job.status === 'running') {
      await stores.jobs.update(jobId, {
        status: 'failed',
        error: 'the worker running this job stopped; it was not run again',
        finishedAt: now(),
      });
      return;
    }
    await stores.jobs.update(jobId, { status: 'running', startedAt: now() });
    // The time limit stops the job like a cancel does; it is told apart by which signal fired.
    const timeLimit = AbortSignal.timeout(deps.timeLimitMs);
    try {
      const app = await stores.apps.get(job.app);
      const release = await stores.releases.get(job.app, job.release);
      const result = await deps.target.runJob({
        app,
        release,
        jobId,
        command: job.command,
        env: job.env,
        signal: signal ? AbortSignal.any([signal, timeLimit]) : timeLimit,
      });
      const timedOut = timeLimit.aborted && !signal?.aborted;
      const ok = result.exitCode === 0 && !timedOut;
      await stores.jobs.update(jobId, {
        status: ok ? 'succeeded' : 'failed',
        exitCode: result.exitCode,
        output: result.output,
        error: timedOut
          ? `stopped after running longer than the time limit of ${formatDuration(deps.timeLimitMs)} (SIDECAR_JOB_TIME_LIMIT_MS)`
          : ok
            ? null
            : (result.reason ?? `exited with code ${result.exitCode}`),
        finishedAt: now(),
      });
    } catch (e) {
      await stores.jobs.update(jobId, {
        status: 'failed',
        error: errorText(e),
        finishedAt: now(),
      });
    }
  };
}
