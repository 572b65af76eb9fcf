import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type express from 'express';
import { inject } from 'vitest';
import { connectRedis, createStores, FsBlobStore, newTokenSecret, SecretBox, type Stores } from '@sidecar/store';
import { DeployQueues } from '@sidecar/store/queues';
import { type AppDeps, createApp } from './app.js';

export interface ApiHarness {
  app: express.Express;
  stores: Stores;
  /** The admin token's Authorization header (ensureAdmin runs in `start`). */
  auth: { authorization: string };
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The API against the real Redis the global setup started, isolated by a key prefix, with its
 * blobs in a throwaway folder. `deps` overrides what a test needs (limits, git settings, ...).
 */
export function apiHarness(deps: Partial<AppDeps> = {}): ApiHarness {
  const prefix = `t-${randomUUID().slice(0, 8)}:`;
  const redis = connectRedis(inject('redisUrl'));
  const stores = createStores(redis, prefix, new SecretBox([{ id: 't', key: randomBytes(32) }]));
  const queues = new DeployQueues(redis, prefix);
  const blobDir = mkdtempSync(join(tmpdir(), 'sidecar-api-test-'));
  const admin = newTokenSecret();
  const app = createApp({
    stores,
    queues,
    blobs: new FsBlobStore(blobDir),
    maxBundleBytes: 64 * 1024,
    urlFor: (n) => `http://${n}.localhost:8080/`,
    ...deps,
  });
  return {
    app,
    stores,
    auth: { authorization: `Bearer ${admin}` },
    start: () => stores.tokens.ensureAdmin(admin),
    async close() {
      await queues.close();
      await stores.close();
      await redis.quit();
      rmSync(blobDir, { recursive: true, force: true });
    },
  };
}
