import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { type App, APP_DEFAULTS, type Job } from '@sidecar/core';
import { connectRedis, createStores, SecretBox } from './index.js';

// Quotas a tenant holds in Redis (apps per token, active jobs per app), decided atomically, against a real Redis.
const redis = connectRedis(inject('redisUrl'));
const stores = createStores(
  redis,
  `t-${randomUUID().slice(0, 8)}:`,
  new SecretBox([{ id: 'a', key: randomBytes(32) }]),
);
afterAll(async () => {
  await stores.close();
  await redis.quit();
});

const app = (name: string): App => ({
  name,
  runtime: 'node',
  env: {},
  secrets: {},
  replicas: 1,
  resources: { ...APP_DEFAULTS.resources },
  sidecars: { logs: true, procinfo: false, tls: { enabled: false } },
  currentRelease: null,
  status: 'new',
  createdAt: new Date().toISOString(),
});
const job = (appName: string, id: string): Job => ({
  id,
  app: appName,
  release: 1,
  command: ['true'],
  env: {},
  status: 'pending',
  exitCode: null,
  error: null,
  output: '',
  createdAt: new Date().toISOString(),
  startedAt: null,
  finishedAt: null,
});

describe('apps per token', () => {
  it('ten creations racing for three places: exactly three win, the rest get quota_exceeded', async () => {
    const tokenId = randomUUID().slice(0, 16);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => stores.apps.create(app(`q-${tokenId}-${i}`), { tokenId, maxApps: 3 })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    for (const r of results.filter((r) => r.status === 'rejected'))
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'quota_exceeded' });
    expect(await stores.apps.countCreatedBy(tokenId)).toBe(3);
  });

  it('a deleted app frees its place; an existing name is app_exists, not a quota', async () => {
    const tokenId = randomUUID().slice(0, 16);
    await stores.apps.create(app(`d-${tokenId}`), { tokenId, maxApps: 1 });
    await expect(stores.apps.create(app(`d-${tokenId}`), { tokenId, maxApps: 5 })).rejects.toMatchObject({
      code: 'app_exists',
    });
    await expect(stores.apps.create(app(`e-${tokenId}`), { tokenId, maxApps: 1 })).rejects.toThrow(
      /as many as one token may have.*SIDECAR_MAX_APPS_PER_TOKEN/,
    );
    await stores.apps.delete(`d-${tokenId}`);
    expect(await stores.apps.countCreatedBy(tokenId)).toBe(0);
    await stores.apps.create(app(`e-${tokenId}`), { tokenId, maxApps: 1 });
  });
});

describe('jobs per app', () => {
  it('requests racing past the limit: only `maxActive` jobs are stored, and one ending frees a place', async () => {
    const name = `j-${randomUUID().slice(0, 8)}`;
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => stores.jobs.create(job(name, `j_${name}_${i}`), { maxActive: 2 })),
    );
    const stored = results.filter((r): r is PromiseFulfilledResult<Job> => r.status === 'fulfilled');
    expect(stored).toHaveLength(2);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({
      reason: {
        code: 'quota_exceeded',
        message: expect.stringMatching(/2 jobs pending or running.*SIDECAR_MAX_JOBS_PER_APP/),
      },
    });
    expect(await stores.jobs.list(name)).toHaveLength(2);
    // Running still counts; ending does not.
    await stores.jobs.update(stored[0]!.value.id, { status: 'running' });
    await expect(stores.jobs.create(job(name, `j_${name}_x`), { maxActive: 2 })).rejects.toMatchObject({
      code: 'quota_exceeded',
    });
    await stores.jobs.update(stored[0]!.value.id, { status: 'failed' });
    await stores.jobs.create(job(name, `j_${name}_y`), { maxActive: 2 });
    await stores.jobs.removeApp(name);
    await stores.jobs.create(job(name, `j_${name}_z`), { maxActive: 1 });
  });
});
