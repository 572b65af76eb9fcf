import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isFinal, silentLog, type Log } from '@sidecar/core';
import type { Stores } from '@sidecar/store';
import { Periodic } from './periodic.js';

/**
 * Uploaded bundles are needed until their deploy ends (a build may be retried); after that the
 * logic image holds the code and rollbacks use images. So a bundle file goes once no unfinished
 * deploy names its digest and it is older than `graceMs` — the grace covers an upload whose deploy
 * record is not written yet, and same-content uploads share one file. Upload temp files older
 * than the grace (an API that died mid-upload) go too.
 */
export async function sweepBundles(opts: {
  root: string;
  stores: Stores;
  graceMs: number;
  now?: number;
}): Promise<{ removed: string[] }> {
  const now = opts.now ?? Date.now();
  const needed = new Set<string>();
  for (const app of await opts.stores.apps.list()) {
    for (const d of await opts.stores.deploys.list(app.name))
      if (d.bundleDigest && !isFinal(d.status)) needed.add(d.bundleDigest);
  }
  const removed: string[] = [];
  const old = async (path: string) => now - (await stat(path)).mtimeMs > opts.graceMs;
  const sweep = async (dir: string, isGarbage: (name: string) => boolean) => {
    const names = await readdir(dir).catch((e: NodeJS.ErrnoException) =>
      e.code === 'ENOENT' ? [] : Promise.reject(e),
    );
    for (const name of names) {
      const path = join(dir, name);
      if (!isGarbage(name) || !(await old(path).catch(() => false))) continue;
      await rm(path, { force: true });
      removed.push(path);
    }
  };
  await sweep(join(opts.root, 'sha256'), (name) => /^[a-f0-9]{64}$/.test(name) && !needed.has(`sha256:${name}`));
  await sweep(opts.root, (name) => name.startsWith('.upload-'));
  return { removed };
}

/** Sweeps every `intervalMs` (default 10 min), logging what it removed. */
export class BundleSweeper {
  private readonly ticks: Periodic;

  constructor(opts: { root: string; stores: Stores; graceMs: number; intervalMs?: number; log?: Log }) {
    const log = opts.log ?? silentLog;
    this.ticks = new Periodic(
      'bundle sweep',
      async () => {
        const { removed } = await sweepBundles(opts);
        if (removed.length > 0)
          log.info({ removed: removed.length }, 'removed bundle files no unfinished deploy needs');
      },
      opts.intervalMs ?? 10 * 60_000,
      log,
    );
  }

  start(): void {
    this.ticks.start();
  }

  close(): Promise<void> {
    return this.ticks.close();
  }
}
