import { z } from 'zod';

/** Queue names and payloads shared by the API (producer) and the worker (consumer). */
export const QueueNames = { build: 'sidecar-build', deploy: 'sidecar-deploy', jobs: 'sidecar-jobs' } as const;

export const BuildJobPayload = z.object({ deployId: z.string().min(1), app: z.string().min(1) });
export type BuildJobPayload = z.infer<typeof BuildJobPayload>;
export const DeployJobPayload = z.object({
  deployId: z.string().min(1),
  app: z.string().min(1),
  release: z.number().int().positive(),
});
export type DeployJobPayload = z.infer<typeof DeployJobPayload>;

/** Job ids derive from the deploy id, so enqueuing twice never runs a deploy twice. */
export const buildJobId = (deployId: string) => `build-${deployId}`;
export const deployJobId = (deployId: string) => `deploy-${deployId}`;
export const JobRunPayload = z.object({ jobId: z.string().min(1), app: z.string().min(1) });
export type JobRunPayload = z.infer<typeof JobRunPayload>;
export const runJobId = (jobId: string) => `run-${jobId}`;
