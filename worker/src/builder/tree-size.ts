import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** lstat calls in flight at once: enough to keep the disk busy, few enough to leave the thread pool to others. */
const PARALLEL_STATS = 32;

/**
 * The bytes a folder puts into an image and onto the disk: per entry the larger of its length and
 * the blocks it holds (a sparse file is as big as its length once packed; a tiny file takes a whole
 * block on disk). Symlinks are counted, never followed. Stops walking as soon as the total passes
 * `stopAbove`, so a huge tree is refused without being walked whole. `whileWritten`: the folder is
 * being written meanwhile (npm renames and removes as it installs), so an entry gone before it was
 * read counts as nothing instead of failing the walk.
 */
export async function treeSize(
  dir: string,
  opts: { stopAbove?: number; whileWritten?: boolean } = {},
): Promise<number> {
  const stopAbove = opts.stopAbove ?? Number.POSITIVE_INFINITY;
  const gone = opts.whileWritten ? vanishedAs : rethrow;
  let total = 0;
  const pending: string[] = [dir];
  while (pending.length > 0 && total <= stopAbove) {
    const batch = pending.splice(Math.max(0, pending.length - PARALLEL_STATS)); // from the end: O(batch)
    const stats = await Promise.all(batch.map(async (path) => ({ path, stat: await lstat(path).catch(gone(null)) })));
    for (const { path, stat } of stats) {
      if (stat === null) continue;
      total += Math.max(stat.size, stat.blocks * 512);
      if (!stat.isDirectory()) continue;
      for (const name of await readdir(path).catch(gone([]))) pending.push(join(path, name));
    }
  }
  return total;
}

const rethrow =
  () =>
  (err: unknown): never => {
    throw err;
  };

/** ENOENT (removed) or ENOTDIR (a folder replaced by a file) while the tree is written: `value` instead. */
const vanishedAs =
  <T>(value: T) =>
  (err: NodeJS.ErrnoException): T => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return value;
    throw err;
  };
