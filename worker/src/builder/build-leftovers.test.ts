import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Labels } from '@sidecar/core';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from '@sidecar/kubelet/test-support';
import { sweepBuildContainers, sweepBuildLeftovers } from './build-leftovers.js';
import { treeSize } from './tree-size.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sidecar-leftovers-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sweepBuildLeftovers', () => {
  it("removes every build folder and the npm caches of apps that no longer exist, and keeps live apps' caches", async () => {
    const workRoot = join(root, 'builds');
    const npmCacheRoot = join(root, 'npm-cache');
    await mkdir(join(workRoot, 'build-d1-abc', 'bundle', 'node_modules', 'x'), { recursive: true });
    await writeFile(join(workRoot, 'build-d1-abc', 'bundle', 'node_modules', 'x', 'index.js'), 'x');
    await mkdir(join(npmCacheRoot, 'alive', '_cacache'), { recursive: true });
    await mkdir(join(npmCacheRoot, 'deleted', '_cacache'), { recursive: true });
    const lines: string[] = [];
    const { removed } = await sweepBuildLeftovers({
      workRoot,
      npmCacheRoot,
      appExists: async (app) => app === 'alive',
      log: (l) => lines.push(l),
    });
    expect(removed.sort()).toEqual([join(workRoot, 'build-d1-abc'), join(npmCacheRoot, 'deleted')]);
    expect(existsSync(join(npmCacheRoot, 'alive', '_cacache'))).toBe(true);
    expect(existsSync(workRoot)).toBe(true);
    expect(lines).toEqual(['removed 2 build folder(s) and npm cache(s) left behind']);
  });

  it('creates the folders on a first start and says nothing', async () => {
    const lines: string[] = [];
    const opts = { workRoot: join(root, 'b'), npmCacheRoot: join(root, 'c'), appExists: async () => true };
    expect(await sweepBuildLeftovers({ ...opts, log: (l) => lines.push(l) })).toEqual({ removed: [] });
    expect(lines).toEqual([]);
  });
});

describe('sweepBuildContainers', () => {
  it("removes the build containers of this platform's deploys (a killed worker's), never another platform's", async () => {
    const d = docker();
    await ensureTestImages(d);
    const ours = uniqueName('d-ours');
    const theirs = uniqueName('d-theirs');
    const create = (kind: string, deploy: string) =>
      d.createContainer({
        Image: TEST_IMAGES.base,
        Cmd: ['true'],
        Labels: { [Labels.managed]: 'true', [Labels.kind]: kind, [Labels.deploy]: deploy },
      });
    const made = [
      await create('npm-install', ours),
      await create('image-build', ours),
      await create('image-build', theirs),
    ];
    try {
      const lines: string[] = [];
      const { removed } = await sweepBuildContainers({
        docker: d,
        isOurDeploy: async (id) => id === ours,
        log: (l) => lines.push(l),
      });
      expect(removed).toHaveLength(2);
      const left = await d.listContainers({ all: true, filters: { label: [Labels.deploy] } });
      const leftIds = new Set(left.map((c) => c.Id));
      expect(made.map((c) => leftIds.has(c.id))).toEqual([false, false, true]);
      expect(lines).toEqual(['removed 2 build container(s) left by a stopped worker']);
    } finally {
      await Promise.all(made.map((c) => c.remove({ force: true }).catch(() => undefined)));
    }
  });
});

describe('treeSize', () => {
  it('counts a sparse file at its full length, and stops early past the limit', async () => {
    const { open } = await import('node:fs/promises');
    const file = await open(join(root, 'sparse'), 'w');
    await file.truncate(64 * 1024 * 1024); // 64 MiB long, no blocks on disk
    await file.close();
    expect(await treeSize(root)).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    for (let i = 0; i < 100; i++) await writeFile(join(root, `f${i}`), 'x');
    expect(await treeSize(root, { stopAbove: 1 })).toBeGreaterThan(1);
  });
});
