import { z } from 'zod';
import { JobStatus } from '../job.js';
import { EnvVars } from './apps.js';
import { Timestamp } from './common.js';

export const RunJobBody = z
  .object({
    command: z
      .array(z.string().max(8192))
      .min(1, 'command must name a program, e.g. ["node", "scripts/migrate.js"]')
      .max(256)
      .meta({ description: 'The program and its arguments (no shell)', examples: [['node', 'scripts/migrate.js']] }),
    env: EnvVars.optional().meta({ description: "Added to the release's environment for this run" }),
  })
  .strict()
  .meta({ id: 'RunJob' });
export type RunJobBody = z.infer<typeof RunJobBody>;

export const JobView = z
  .object({
    id: z.string().meta({ examples: ['j_4kq2m1'] }),
    app: z.string(),
    release: z.number().int(),
    command: z.array(z.string()),
    env: z.record(z.string(), z.string()),
    status: z.enum(JobStatus),
    exitCode: z.number().int().nullable(),
    error: z.string().nullable().meta({ description: 'Why it failed without an exit code of its own' }),
    output: z.string().meta({ description: "The last 64 KiB of the command's stdout and stderr, once it ended" }),
    createdAt: Timestamp,
    startedAt: Timestamp.nullable(),
    finishedAt: Timestamp.nullable(),
  })
  .meta({ id: 'Job' });
export type JobView = z.infer<typeof JobView>;
