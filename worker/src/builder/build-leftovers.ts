import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { Labels } from '@sidecar/core';

export interface BuildLeftoversOptions {
  /** Where builds make their scratch folders (`<data dir>/builds`). */
  workRoot: string;
  /** Where per-app npm caches live (`<data dir>/npm-cache`), one folder per app. */
  npmCacheRoot: string;
  /** Whether an app of that name exists; a cache of an app that does not is removed. */
  appExists: (app: string) => Promise<boolean>;
  log: (line: string) => void;
}

/**
 * Run once when the worker starts, before it takes a build: every build folder then belongs to a
 * worker that died mid-build (one worker per data dir, docs/operations.md), and would otherwise hold
 * an unpacked bundle and its node_modules on the disk for good. npm caches of apps deleted since go
 * too. Returns what it removed.
 */
export async function sweepBuildLeftovers(opts: BuildLeftoversOptions): Promise<{ removed: string[] }> {
  const removed: string[] = [];
  await mkdir(opts.workRoot, { recursive: true });
  for (const name of await readdir(opts.workRoot)) {
    await rm(join(opts.workRoot, name), { recursive: true, force: true });
    removed.push(join(opts.workRoot, name));
  }
  await mkdir(opts.npmCacheRoot, { recursive: true });
  for (const app of await readdir(opts.npmCacheRoot)) {
    if (await opts.appExists(app)) continue;
    await rm(join(opts.npmCacheRoot, app), { recursive: true, force: true });
    removed.push(join(opts.npmCacheRoot, app));
  }
  if (removed.length > 0) opts.log(`removed ${removed.length} build folder(s) and npm cache(s) left behind`);
  return { removed };
}

/** The containers a build runs or creates: npm installs and the scratch container of an image commit. */
export const BUILD_CONTAINER_KINDS = ['npm-install', 'image-build'] as const;

/**
 * Run once when the worker starts, with sweepBuildLeftovers: a build container of one of this
 * platform's deploys (`isOurDeploy`: deploy ids are unique per platform store) belongs to a worker
 * that was killed mid-build, since no build of ours runs yet. Containers of other platforms sharing
 * the engine are never touched. Returns the names removed.
 */
export async function sweepBuildContainers(opts: {
  docker: Docker;
  isOurDeploy: (deployId: string) => Promise<boolean>;
  log: (line: string) => void;
}): Promise<{ removed: string[] }> {
  const removed: string[] = [];
  for (const kind of BUILD_CONTAINER_KINDS) {
    const found = await opts.docker.listContainers({
      all: true,
      filters: { label: [`${Labels.managed}=true`, `${Labels.kind}=${kind}`, Labels.deploy] },
    });
    for (const c of found) {
      if (!(await opts.isOurDeploy(c.Labels[Labels.deploy]!))) continue;
      await opts.docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch((e: unknown) => {
          if ((e as { statusCode?: number }).statusCode !== 404) throw e;
        });
      removed.push(c.Names[0]?.replace(/^\//, '') ?? c.Id);
    }
  }
  if (removed.length > 0) opts.log(`removed ${removed.length} build container(s) left by a stopped worker`);
  return { removed };
}
