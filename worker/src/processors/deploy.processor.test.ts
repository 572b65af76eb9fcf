import { randomBytes, randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { APP_DEFAULTS, type App, type Target } from '@sidecar/core';
import { connectRedis, createStores, SecretBox } from '@sidecar/store';
import { CancelRegistry } from '../cancel-registry.js';
import { deployProcessor } from './deploy.processor.js';

// An app's removal job against a real Redis, with a target that only does what the Docker target does to routes.
const redis = connectRedis(inject('redisUrl'));
const stores = createStores(
  redis,
  `t-${randomUUID().slice(0, 8)}:`,
  new SecretBox([{ id: 'k', key: randomBytes(32) }]),
);
afterAll(async () => {
  await stores.close();
  await redis.quit();
});

const app = (name: string): App => ({
  ...APP_DEFAULTS,
  name,
  env: {},
  secrets: {},
  resources: { ...APP_DEFAULTS.resources },
  sidecars: { logs: true, procinfo: false, tls: { enabled: false } },
  currentRelease: null,
  status: 'new',
  createdAt: new Date().toISOString(),
});

function processor(duringRemoval: () => Promise<void>) {
  // The Docker target's remove(): pods gone, then the app's route entry.
  const target = {
    remove: async (name: string) => {
      await duringRemoval();
      await stores.routes.remove(name);
    },
  } as unknown as Target;
  return deployProcessor({
    stores,
    target,
    cancels: new CancelRegistry(),
    publishStatus: () => Promise.resolve(),
    pruneImages: () => Promise.resolve(),
    removeImages: () => Promise.resolve(),
  });
}
const removal = (name: string) => ({ name: 'remove', id: `remove-${name}`, data: { app: name } }) as unknown as Job;

describe('the removal of a deleted app', () => {
  it('takes its route entry', async () => {
    await stores.apps.create(app('gone-for-good'));
    await stores.routes.declare('gone-for-good');
    await stores.apps.delete('gone-for-good');
    await processor(() => Promise.resolve())(removal('gone-for-good'));
    expect((await stores.routes.all()).routes.has('gone-for-good')).toBe(false);
  });

  it('leaves an app of that name created meanwhile known to the routers', async () => {
    // Deleted, then created again (and declared by the API) while the worker removes the old one's pods.
    await processor(async () => {
      await stores.apps.create(app('reborn'));
      await stores.routes.declare('reborn');
    })(removal('reborn'));
    expect((await stores.routes.all()).routes.get('reborn')).toEqual([]);
  });
});
