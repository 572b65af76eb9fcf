import { z } from 'zod';
import { DomainError, ErrorCode, type Job } from '@sidecar/core';
import type { DeployQueues, Stores } from '@sidecar/store';
import { envKey, parseBody } from './app-service.js';
import { newId } from './ids.js';

const RunBody = z
  .object({
    command: z
      .array(z.string().max(8192))
      .min(1, 'command must name a program, e.g. ["node", "scripts/migrate.js"]')
      .max(256),
    env: z.record(envKey, z.string().max(32_768)).optional(),
  })
  .strict();

/** One-off runs of an app's current release (API.md: POST /apps/:app/jobs). */
export class JobService {
  constructor(
    private readonly stores: Stores,
    private readonly queues: DeployQueues,
  ) {}

  async run(appName: string, body: unknown): Promise<Job> {
    const b = parseBody(RunBody, body);
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
    await this.stores.jobs.create(job);
    await this.queues.enqueueJob({ jobId: job.id, app: appName });
    return job;
  }
}
