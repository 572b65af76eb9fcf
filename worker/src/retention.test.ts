import { randomBytes, randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { APP_DEFAULTS } from '@sidecar/core';
import { ensurePlatformImages } from '@sidecar/runtime-image';
import { connectRedis, createStores, SecretBox } from '@sidecar/store';
import { pruneReleaseImages, removeAppImages } from './retention.js';

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

describe('removeAppImages', () => {
  const platform = `ret-${randomBytes(3).toString('hex')}`;
  const made: string[] = [];
  afterAll(async () => {
    for (const ref of made)
      await docker
        .getImage(ref)
        .remove({ force: true })
        .catch(() => undefined);
  });

  /** A logic image as the builder labels it (an image of its own: labels are part of the image). */
  async function logicImage(tag: string, labels: { app: string; platform: string }): Promise<string> {
    const { logicBase } = await ensurePlatformImages({ docker });
    const c = await docker.createContainer({ Image: logicBase });
    try {
      await c.commit({
        repo,
        tag,
        changes: [
          `LABEL sidecar.paas/managed="true" sidecar.paas/kind="logic-image" sidecar.paas/app="${labels.app}" sidecar.paas/platform="${labels.platform}"`,
        ],
      });
    } finally {
      await c.remove({ force: true });
    }
    made.push(`${repo}:${tag}`);
    return `${repo}:${tag}`;
  }

  it("removes the deleted app's images of this platform only, and only those made before an app of that name made since", async () => {
    const old = await logicImage('gone-1', { app: 'gone', platform });
    const otherApp = await logicImage('kept-1', { app: 'kept', platform });
    const otherPlatform = await logicImage('gone-elsewhere', { app: 'gone', platform: `${platform}-other` });
    const created = (ref: string) =>
      docker
        .getImage(ref)
        .inspect()
        .then((i) => Date.parse(i.Created));
    // An app of the same name made after `old` (image times are whole seconds in the listing: the next one).
    const cutoff = new Date(Math.floor((await created(old)) / 1000) * 1000 + 1000);
    while (Date.now() < cutoff.getTime()) await new Promise((r) => setTimeout(r, 50));
    // Its image, made after the cutoff, stays.
    const newer = await logicImage('gone-2', { app: 'gone', platform });

    expect(await removeAppImages({ docker, app: 'gone', platformId: platform, madeBefore: cutoff })).toBe(1);
    expect(await exists(old)).toBe(false);
    for (const ref of [otherApp, otherPlatform, newer]) expect(await exists(ref)).toBe(true);
    // With no app of that name any more, every one of its images on this platform goes.
    expect(await removeAppImages({ docker, app: 'gone', platformId: platform })).toBe(1);
    expect(await exists(newer)).toBe(false);
    for (const ref of [otherApp, otherPlatform]) expect(await exists(ref)).toBe(true);
  });
});
