import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

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
