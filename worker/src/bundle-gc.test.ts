import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { APP_DEFAULTS, computeTimings, type Deploy, type DeployStatus } from '@sidecar/core';
import { connectRedis, createStores, SecretBox } from '@sidecar/store';
import { sweepBundles } from './bundle-gc.js';

// Against the real Redis: a bundle goes once no unfinished deploy needs it and it is old enough.
const redis = connectRedis(inject('redisUrl'));
const stores = createStores(
  redis,
  `t-${randomUUID().slice(0, 8)}:`,
  new SecretBox([{ id: 'k', key: randomBytes(32) }]),
);
const root = mkdtempSync(join(tmpdir(), 'sidecar-bundles-'));
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await stores.close();
  await redis.quit();
});

const HOUR = 3_600_000;
const digestOf = (c: string) => c.repeat(64);
function bundle(hex: string, ageMs: number): string {
  mkdirSync(join(root, 'sha256'), { recursive: true });
  const path = join(root, 'sha256', hex);
  writeFileSync(path, 'tar');
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(path, t, t);
  return path;
}
async function deployOf(app: string, hex: string, status: DeployStatus): Promise<void> {
  const times = { createdAt: new Date().toISOString(), startedAt: null, builtAt: null, finishedAt: null };
  const d: Deploy = {
    id: `d_${randomUUID()}`,
    app,
    status,
    release: null,
    error: null,
    source: 'api',
    ...times,
    timings: computeTimings(times),
    bundleDigest: `sha256:${hex}`,
  };
  await stores.deploys.create(d);
}

describe('sweepBundles', () => {
  it('removes old bundles no unfinished deploy names and stale upload temp files; keeps the rest', async () => {
    await stores.apps.create({
      ...APP_DEFAULTS,
      name: 'gc',
      env: {},
      secrets: {},
      resources: { ...APP_DEFAULTS.resources },
      sidecars: { logs: true, procinfo: false, tls: { enabled: false } },
      currentRelease: null,
      status: 'new',
      createdAt: new Date().toISOString(),
    });
    const building = bundle(digestOf('a'), 2 * HOUR); // its deploy is still building: needed for a retry
    const done = bundle(digestOf('b'), 2 * HOUR); // its deploy succeeded: the image holds the code
    const orphan = bundle(digestOf('c'), 2 * HOUR); // no deploy names it (its app was deleted)
    const fresh = bundle(digestOf('d'), 60_000); // just uploaded: its deploy may not be written yet
    const shared = bundle(digestOf('e'), 2 * HOUR); // the same content in a finished and a queued deploy
    await deployOf('gc', digestOf('a'), 'building');
    await deployOf('gc', digestOf('b'), 'succeeded');
    await deployOf('gc', digestOf('e'), 'failed');
    await deployOf('gc', digestOf('e'), 'queued');
    const staleUpload = join(root, '.upload-stale');
    writeFileSync(staleUpload, 'half');
    utimesSync(staleUpload, (Date.now() - 2 * HOUR) / 1000, (Date.now() - 2 * HOUR) / 1000);
    const liveUpload = join(root, '.upload-live');
    writeFileSync(liveUpload, 'half');

    const { removed } = await sweepBundles({ root, stores, graceMs: HOUR });
    expect(removed.sort()).toEqual([done, orphan, staleUpload].sort());
    for (const p of [building, fresh, shared, liveUpload]) expect(existsSync(p)).toBe(true);
    for (const p of [done, orphan, staleUpload]) expect(existsSync(p)).toBe(false);
  });

  it('an empty or missing bundle directory is fine', async () => {
    expect((await sweepBundles({ root: join(root, 'nothing-here'), stores, graceMs: HOUR })).removed).toEqual([]);
  });
});
