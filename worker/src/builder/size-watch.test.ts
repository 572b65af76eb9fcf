import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { watchTreeSize } from './size-watch.js';
import { treeSize } from './tree-size.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sidecar-size-watch-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The signal's reason once it aborts (at once if it already has). */
const aborted = (signal: AbortSignal) =>
  new Promise<unknown>((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });

describe('watchTreeSize', () => {
  it('aborts once the folder grows past the limit, with the size it measured', async () => {
    const watch = watchTreeSize({ dir, maxBytes: 64 * 1024, intervalMs: 10 });
    await writeFile(join(dir, 'small'), Buffer.alloc(1024));
    await writeFile(join(dir, 'big'), Buffer.alloc(128 * 1024, 1));
    expect(await aborted(watch.exceeded)).toBeGreaterThan(64 * 1024);
    await watch.stop();
  });

  it('never aborts for a folder within the limit, and stops when told', async () => {
    const watch = watchTreeSize({ dir, maxBytes: 1024 * 1024, intervalMs: 5 });
    await writeFile(join(dir, 'a'), Buffer.alloc(4096));
    // Several measures pass (each sees the same folder) before it is stopped.
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 10));
    await watch.stop();
    expect(watch.exceeded.aborted).toBe(false);
  });

  it('keeps measuring while entries are removed under it', async () => {
    const watch = watchTreeSize({ dir, maxBytes: 256 * 1024, intervalMs: 1 });
    // Folders made and removed as npm does while it installs; the measures must not fail on them.
    for (let round = 0; round < 30; round++) {
      const d = join(dir, `tmp-${round}`, 'deep', 'er');
      await mkdir(d, { recursive: true });
      await writeFile(join(d, 'f'), 'x');
      await rm(join(dir, `tmp-${round}`), { recursive: true });
    }
    await writeFile(join(dir, 'big'), Buffer.alloc(512 * 1024, 1));
    await aborted(watch.exceeded);
    await expect(watch.stop()).resolves.toBeUndefined();
  });

  it('reports a measure that failed for another reason when stopped', async () => {
    // A name longer than a file system allows fails lstat with ENAMETOOLONG, not ENOENT.
    const watch = watchTreeSize({ dir: join(dir, 'x'.repeat(300)), maxBytes: 1, intervalMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    await expect(watch.stop()).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    expect(watch.exceeded.aborted).toBe(false);
  });

  it('counts a root not made yet as empty', async () => {
    const watch = watchTreeSize({ dir: join(dir, 'not-yet'), maxBytes: 1, intervalMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    await expect(watch.stop()).resolves.toBeUndefined();
    expect(watch.exceeded.aborted).toBe(false);
  });
});

describe('treeSize', () => {
  it('fails on a missing folder unless it is being written', async () => {
    await expect(treeSize(join(dir, 'nope'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(treeSize(join(dir, 'nope'), { whileWritten: true })).resolves.toBe(0);
  });
});
