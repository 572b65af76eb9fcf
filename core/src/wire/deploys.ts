import { z } from 'zod';
import { DeploySource, DeployStatus } from '../deploy.js';
import { Timestamp } from './common.js';

/** Media types a bundle may be uploaded as; the worker still checks the bytes themselves. */
export const BUNDLE_MEDIA_TYPES = [
  'application/gzip',
  'application/x-gzip',
  'application/x-tar',
  'application/zip',
  'application/x-zip-compressed',
  'application/octet-stream',
] as const;

const Commit = z
  .object({ sha: z.string(), message: z.string() })
  .meta({ id: 'Commit', description: 'The commit a `git push` deployed' });

const ms = z.number().nullable();
export const DeployView = z
  .object({
    id: z.string().meta({ examples: ['d_k3j9x2'] }),
    app: z.string(),
    status: z.enum(DeployStatus),
    release: z.number().int().nullable().meta({ description: 'The release it made, once built' }),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    source: z.enum(DeploySource),
    createdAt: Timestamp,
    startedAt: Timestamp.nullable(),
    builtAt: Timestamp.nullable(),
    finishedAt: Timestamp.nullable(),
    timings: z.object({ queuedMs: ms, buildMs: ms, deployMs: ms, totalMs: ms }),
    bundleDigest: z
      .string()
      .nullable()
      .meta({ description: 'sha256 of the uploaded bundle; null when nothing was built (config change, rollback)' }),
    commit: Commit.nullable().optional(),
  })
  .meta({ id: 'Deploy' });
export type DeployView = z.infer<typeof DeployView>;

export const ReleaseView = z
  .object({
    version: z.number().int().min(1),
    image: z.string().meta({ description: 'The logic sidecar image' }),
    imageDigest: z.string(),
    runtimeImage: z.string(),
    runtimeImageDigest: z.string().nullable(),
    settings: z
      .object({ replicas: z.number().int(), resources: z.object({ memory: z.string(), cpu: z.string() }) })
      .nullable()
      .meta({ description: 'The app settings the release was made with' }),
    imagePruned: z.boolean().meta({ description: 'Its image was removed by retention: it cannot be rolled back to' }),
    env: z.record(z.string(), z.string()),
    createdAt: Timestamp,
    deployId: z.string(),
    current: z.boolean(),
    commit: Commit.nullable(),
  })
  .meta({ id: 'Release' });
export type ReleaseView = z.infer<typeof ReleaseView>;

const VERSION_HINT = 'give the release number to roll back to, e.g. {"version": 1}';
export const RollbackBody = z
  .object({
    version: z.number({ error: VERSION_HINT }).int({ error: VERSION_HINT }).min(1, { error: VERSION_HINT }),
  })
  .meta({ id: 'Rollback' });
export type RollbackBody = z.infer<typeof RollbackBody>;

/** `?follow=true` (or `1`) keeps a log open; anything else reads what there is and ends. */
export const Follow = z
  .string()
  .optional()
  .meta({ description: '`true` or `1`: keep the response open and send new lines as they come' });
export const isFollow = (v: string | undefined): boolean => v === 'true' || v === '1';

export const DeployLogQuery = z.object({ follow: Follow });
