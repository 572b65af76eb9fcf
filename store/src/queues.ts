import { Queue, type ConnectionOptions } from 'bullmq';
import {
  buildJobId,
  type BuildJobPayload,
  deployJobId,
  type DeployJobPayload,
  type JobRunPayload,
  QueueNames,
  runJobId,
} from '@sidecar/core';

/**
 * The API's side of the queues: it only enqueues. Job ids derive from the deploy
 * id, so a retried request never enqueues a deploy twice. User failures are not
 * retried (the worker throws UnrecoverableError); transient ones are, with backoff.
 */
/** Build and deploy jobs: transient failures retried with backoff; the last 500 kept for inspection. */
const RETRIED = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { count: 500 },
  removeOnFail: { count: 500 },
} as const;

export class DeployQueues {
  readonly build: Queue;
  readonly deploy: Queue;
  readonly jobs: Queue;

  constructor(connection: ConnectionOptions, prefix: string) {
    const common = { connection, prefix: `${prefix}bull` };
    this.build = new Queue(QueueNames.build, common);
    this.deploy = new Queue(QueueNames.deploy, common);
    this.jobs = new Queue(QueueNames.jobs, common);
  }

  async enqueueBuild(p: BuildJobPayload): Promise<void> {
    await this.build.add('build', p, { ...RETRIED, jobId: buildJobId(p.deployId) });
  }

  async enqueueDeploy(p: DeployJobPayload): Promise<void> {
    await this.deploy.add('deploy', p, { ...RETRIED, jobId: deployJobId(p.deployId) });
  }

  async enqueueRemoval(app: string): Promise<void> {
    await this.deploy.add(
      'remove',
      { app },
      {
        jobId: `remove-${app}-${Date.now()}`,
        attempts: 5,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: true,
      },
    );
  }

  /** A one-off command is never run twice: one attempt; a lost worker fails it visibly. */
  async enqueueJob(p: JobRunPayload): Promise<void> {
    await this.jobs.add('job', p, {
      jobId: runJobId(p.jobId),
      attempts: 1,
      removeOnComplete: { count: 500 },
      removeOnFail: { count: 500 },
    });
  }

  /** Drops a deploy's build job if it has not started yet; true when it was removed. */
  async dropQueuedBuild(deployId: string): Promise<boolean> {
    const job = await this.build.getJob(buildJobId(deployId));
    if (!job) return false;
    const state = await job.getState();
    if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') return false;
    try {
      await job.remove();
      return true;
    } catch {
      return false; // picked up in the meantime: the worker sees the cancel flag instead
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.build.close(), this.deploy.close(), this.jobs.close()]);
  }
}
