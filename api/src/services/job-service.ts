import { checkVars, DEFAULT_TENANT_LIMITS, DomainError, ErrorCode, type Job, type TenantLimits } from '@sidecar/core';
import { parseInput, RunJobBody } from '@sidecar/core/wire';
import type { Stores } from '@sidecar/store';
import type { DeployQueues } from '@sidecar/store/queues';
import { newId } from '@sidecar/store';

/** One-off runs of an app's current release (API.md: POST /apps/:app/jobs). */
export class JobService {
  constructor(
    private readonly stores: Stores,
    private readonly queues: DeployQueues,
    private readonly limits: TenantLimits = DEFAULT_TENANT_LIMITS,
  ) {}

  async run(appName: string, body: unknown): Promise<Job> {
    const b = parseInput(RunJobBody, body);
    if (b.env) checkVars([b.env], this.limits, 'env of the job');
    const app = await this.stores.apps.get(appName);
    if (app.currentRelease === null) {
      throw new DomainError(ErrorCode.noRelease, `app "${appName}" has no release yet: deploy it before running a job`);
    }
    const job: Job = {
      id: newId('j'),
      app: appName,
      release: app.currentRelease,
      command: b.command,
      env: b.env ?? {},
      status: 'pending',
      exitCode: null,
      error: null,
      output: '',
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
    };
    await this.stores.jobs.create(job, { maxActive: this.limits.maxJobsPerApp });
    await this.queues.enqueueJob({ jobId: job.id, app: appName });
    return job;
  }
}
