import { randomBytes, randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { APP_DEFAULTS } from '@sidecar/core';
import { ensurePlatformImages } from '@sidecar/runtime-image';
import { connectRedis, createStores, SecretBox } from '@sidecar/store';
import { pruneReleaseImages } from './retention.js';

// Retention against the real Docker engine and Redis: only images no kept release uses are removed.
const docker = new Docker();
const redis = connectRedis(inject('redisUrl'));
const stores = createStores(
  redis,
  `t-${randomUUID().slice(0, 8)}:`,
  new SecretBox([{ id: 'k', key: randomBytes(32) }]),
);
const repo = `sidecar-test-retention-${randomBytes(3).toString('hex')}`;
afterAll(async () => {
  for (const t of ['a', 'b', 'c'])
    await docker
      .getImage(`${repo}:${t}`)
      .remove()
      .catch(() => undefined);
  await stores.close();
  await redis.quit();
});

const exists = (ref: string) =>
  docker
    .getImage(ref)
    .inspect()
    .then(
      () => true,
      () => false,
    );

describe('pruneReleaseImages', () => {
  it('keeps the newest N releases and images they share; removes the rest and marks them', async () => {
    const { logicBase } = await ensurePlatformImages({ docker });
    for (const t of ['a', 'b', 'c']) await docker.getImage(logicBase).tag({ repo, tag: t });
    await stores.apps.create({
      ...APP_DEFAULTS,
      name: 'ret',
      env: {},
      secrets: {},
      resources: { ...APP_DEFAULTS.resources },
      sidecars: { logs: true, procinfo: false, tls: { enabled: false } },
      currentRelease: 4,
      status: 'running',
      createdAt: new Date().toISOString(),
    });
    // v1: a, v2: b, v3: a again (a rollback to v1), v4: c. Keep 2 → v4 (c) and v3 (a) stay.
    for (const t of ['a', 'b', 'a', 'c']) {
      await stores.releases.create({
        app: 'ret',
        image: `${repo}:${t}`,
        imageDigest: 'sha256:x',
        runtimeImage: 'r',
        env: {},
        manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' },
        createdAt: new Date().toISOString(),
        deployId: 'd',
      });
    }
    const lines: string[] = [];
    expect(await pruneReleaseImages({ docker, stores, app: 'ret', keep: 2, log: (l) => lines.push(l) })).toBe(1);
    expect(await exists(`${repo}:b`)).toBe(false);
    expect(await exists(`${repo}:a`)).toBe(true); // v1 is old, but v3 uses the same image
    expect(await exists(`${repo}:c`)).toBe(true);
    const pruned = (await stores.releases.list('ret')).filter((r) => r.imagePruned).map((r) => r.version);
    expect(pruned).toEqual([2]);
    expect(lines).toEqual([`retention: removed the image of v2 (${repo}:b)`]);
    // Idempotent: nothing more to do.
    expect(await pruneReleaseImages({ docker, stores, app: 'ret', keep: 2 })).toBe(0);
  });
});
