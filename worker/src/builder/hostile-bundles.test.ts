import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BundleNameRules, DEFAULT_BUNDLE_LIMITS, DomainError, Labels, type BundleLimits } from '@sidecar/core';
import { tarBuffer, type TarEntry } from './test-support/tar.js';
import { extractBundle } from './extract.js';
import { prepareBundle, type DependencyInstaller } from './prepare.js';
import { paxRecord, TAR_END, tarEntry } from '../../../test/support/raw-tar.js';

/*
 * Bundles made to cost the worker time or memory: every one is refused (or accepted) with its documented
 * error, and none blocks the event loop for long. The worker serves every build and deploy from one
 * event loop, so a bundle that blocks it stalls all tenants (issue 14, finding 2: a 32 KB name took 1.1 s).
 *
 * How the bound is measured: perf_hooks' event-loop delay histogram, sampling every 10 ms, records how
 * late each timer fired, i.e. the longest stretch the loop was kept from running. The requirement is
 * 100 ms per bundle, and the test asserts exactly that. What this code blocks for itself is far below it
 * on an idle machine (its longest synchronous step, the JSON.parse of a 1 MiB package.json with 40 000
 * keys, is some tens of milliseconds; the rest are a few). The margin is for what the machine adds: on a
 * 2-core CI host running other suites at once, the process also waits for a core, and that shows up as
 * delay too. Two things keep that out of the figure without hiding a real block:
 * - a second probe counts each stall at most as the CPU time the process got during it (a stall spent
 *   waiting for a core uses none; code that blocks the loop burns CPU the whole time), and a run's figure
 *   is the smaller of the histogram's worst delay and that probe's worst stall: both are at least the
 *   real block, so their minimum is too;
 * - a case over the bound is run again, up to 3 runs, and the smallest figure is asserted: a real block
 *   comes back every run, one unlucky moment of the machine does not.
 * The quadratic path check this replaced blocked for 1.1 s on a 32 KB name, every run, all of it CPU.
 */
const BLOCK_LIMIT_MS = 100;
const RUNS = 3;
const SAMPLE_MS = 10;
const worst: Record<string, number> = {};

/** The longest event-loop stall, each counted at most as the CPU time the process had during it. */
function cpuBoundedStalls() {
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    const stall = now - last - SAMPLE_MS;
    longest = Math.max(longest, Math.min(stall, (cpu.user + cpu.system) / 1000));
    last = now;
    lastCpu = process.cpuUsage();
  }, SAMPLE_MS);
  return () => (clearInterval(timer), longest);
}

/** Runs `work` (which must be repeatable) and asserts the event-loop bound as described above. */
async function measured<T>(label: string, work: () => Promise<T>): Promise<T> {
  let best = Number.POSITIVE_INFINITY;
  let result: T | undefined;
  for (let run = 0; run < RUNS && best >= BLOCK_LIMIT_MS; run++) {
    const histogram = monitorEventLoopDelay({ resolution: SAMPLE_MS });
    histogram.enable();
    const stalls = cpuBoundedStalls();
    let longestCpuStall = 0;
    try {
      result = await work();
    } finally {
      longestCpuStall = stalls();
      histogram.disable();
    }
    best = Math.min(best, histogram.max / 1e6, longestCpuStall);
  }
  worst[label] = Math.round(best);
  expect(best, `${label}: the event loop was blocked for ${best.toFixed(1)} ms`).toBeLessThan(BLOCK_LIMIT_MS);
  return result as T;
}

afterAll(() => console.log(`longest event-loop delay per hostile bundle (ms): ${JSON.stringify(worst)}`));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sidecar-hostile-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

let runs = 0; // every run unpacks into a fresh folder, so a case can be measured again

async function extract(archive: Buffer, limits: Partial<BundleLimits> = {}) {
  const source = join(dir, `upload-${++runs}`);
  await writeFile(source, archive);
  return extractBundle({ source, dest: join(dir, `out-${runs}`), limits: { ...DEFAULT_BUNDLE_LIMITS, ...limits } });
}

async function refusal(p: Promise<unknown>): Promise<DomainError> {
  const err = await p.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
}

const index = { name: 'index.js', content: 'module.exports = () => {}' };

describe('hostile names are refused, each in bounded time', () => {
  it('a name past 4 KiB (carried in a pax header)', async () => {
    const long = `${'a/'.repeat(2500)}x.js`;
    const archive = gzipSync(await tarBuffer([index, { name: long, content: '' }]));
    const err = await measured('name over 4 KiB', () => refusal(extract(archive)));
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(/is 5004 bytes long, more than the 4096-byte limit/);
    expect(err.message.length).toBeLessThan(400); // the name is shortened in the message
  });

  it('a name more than 256 folders deep', async () => {
    const deep = `${'d/'.repeat(BundleNameRules.maxDepth)}x.js`;
    const archive = gzipSync(await tarBuffer([index, { name: deep, content: '' }]));
    const err = await measured('257 deep', () => refusal(extract(archive)));
    expect(err.message).toMatch(/is 257 folders deep, more than the limit of 256/);
  });

  it('a 4 MiB pax path: refused on its header, never buffered', async () => {
    const archive = gzipSync(
      Buffer.concat([
        tarEntry({ name: 'index.js', type: '0' }, 'x'),
        tarEntry({ name: 'PaxHeader/p', type: 'x' }, paxRecord('path', 'a/'.repeat(2 * 1024 * 1024))),
        tarEntry({ name: 'p', type: '0' }, 'x'),
        TAR_END,
      ]),
    );
    const err = await measured('4 MiB pax path', () => refusal(extract(archive)));
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(/tar pax extended header of 4 MiB, more than the 16 KiB limit/);
  });

  it('a 4 MiB GNU long name', async () => {
    const archive = Buffer.concat([
      tarEntry({ name: '././@LongLink', type: 'L' }, `${'n'.repeat(4 * 1024 * 1024)}\0`),
      tarEntry({ name: 'n', type: '0' }, 'x'),
      TAR_END,
    ]);
    const err = await measured('4 MiB GNU long name', () => refusal(extract(archive)));
    expect(err.message).toMatch(/GNU long-name header of 4 MiB/);
  });

  it('a symlink target past 4 KiB', async () => {
    const archive = gzipSync(await tarBuffer([index, { name: 'l', type: 'symlink', linkname: 'x/'.repeat(2500) }]));
    const err = await measured('long link target', () => refusal(extract(archive)));
    expect(err.message).toMatch(/symlink "l" has a target of 5000 bytes, more than the 4096-byte limit/);
  });

  it('deep names that each imply new folders count those folders against the entry limit', async () => {
    // 256 folders per name, all new: without counting them, 20 000 names would make 5 million folders.
    const entries = Array.from({ length: 200 }, (_, i) => ({ name: `${i}/${'d/'.repeat(250)}f.js`, content: 'x' }));
    const archive = gzipSync(await tarBuffer([index, ...entries]));
    const err = await measured('implied folders', () => refusal(extract(archive)));
    expect(err.code).toBe('bundle_too_large');
    expect(err.message).toMatch(/more than 20000 entries \(the limit, folders included\)/);
  });
});

describe('big but legal bundles pass, also in bounded time', () => {
  it('2000 files with 4 KiB names 250 folders deep', async () => {
    const folder = `${'abcdefghijklmno/'.repeat(250)}`; // 4000 bytes, 250 deep
    const entries = Array.from({ length: 2000 }, (_, i) => ({ name: `${folder}${i}.js`, content: 'x' }));
    const archive = gzipSync(await tarBuffer([index, ...entries]));
    const result = await measured('2000 deep names', () => extract(archive));
    expect(result.files).toHaveLength(2001);
  });

  it('5000 symlinks resolved through a chain of other symlinks', async () => {
    // l0 -> . ; each li -> l{i-1}/l{i-1}/... : resolving one walks through the others (memoised).
    const links: TarEntry[] = [{ name: 'l0', type: 'symlink', linkname: '.' }];
    for (let i = 1; i < 40; i++) links.push({ name: `l${i}`, type: 'symlink', linkname: `l${i - 1}/`.repeat(100) });
    for (let i = 0; i < 5000; i++)
      links.push({ name: `m${i}`, type: 'symlink', linkname: `${'l39/'.repeat(900)}index.js` });
    const archive = gzipSync(await tarBuffer([index, ...links]));
    const result = await measured('5000 chained links', () => extract(archive));
    expect(result.files).toEqual(['index.js']);
  });

  it('a symlink loop is still found', async () => {
    const loop: TarEntry[] = [
      { name: 'a', type: 'symlink', linkname: 'b/x' },
      { name: 'b', type: 'symlink', linkname: 'a' },
    ];
    const err = await refusal(extract(gzipSync(await tarBuffer([index, ...loop]))));
    expect(err.message).toMatch(/symlink "a" is part of a symlink loop/);
  });
});

/** Records what an installer was asked to do. */
class RecordingInstaller implements DependencyInstaller {
  apps: string[] = [];
  async install({ app }: { app: string }): Promise<void> {
    this.apps.push(app);
  }
}

async function upload(files: TarEntry[]): Promise<string> {
  const source = join(dir, 'upload');
  await writeFile(source, gzipSync(await tarBuffer(files)));
  return source;
}

async function prepare(source: string) {
  const installer = new RecordingInstaller();
  const lines: string[] = [];
  const result = await prepareBundle({
    source,
    workDir: join(dir, `work-${++runs}`),
    limits: DEFAULT_BUNDLE_LIMITS,
    installer,
    labels: { [Labels.app]: 'hostile' },
    signal: new AbortController().signal,
    log: (l) => lines.push(l),
  });
  return { ...result, installer, lines };
}

describe('package.json and sidecar.json are parsed only up to 1 MiB', () => {
  it.each(['package.json', 'sidecar.json'])('a 2 MiB %s is refused before it is read', async (name) => {
    const big = JSON.stringify({ main: 'index.js', padding: 'x'.repeat(2 * 1024 * 1024) });
    const source = await upload([index, { name, content: big }]);
    const err = await measured(`2 MiB ${name}`, () => refusal(prepare(source)));
    expect(err.code).toBe('bundle_too_large');
    expect(err.message).toMatch(new RegExp(`^${name.replace('.', '\\.')} is 2 MiB, more than the 1 MiB limit`));
  });

  it('a package.json just under 1 MiB with 40 000 dependencies goes through', async () => {
    const dependencies = Object.fromEntries(Array.from({ length: 40_000 }, (_, i) => [`p${i}`, '^1.0.0']));
    const content = JSON.stringify({ main: 'index.js', dependencies });
    expect(content.length).toBeLessThan(BundleNameRules.maxManifestFileBytes);
    const source = await upload([index, { name: 'package.json', content }]);
    const { installer, lines } = await measured('40 000 dependencies', () => prepare(source));
    expect(installer.apps).toEqual(['hostile']);
    expect(lines).toContain('installing 40000 dependencies with npm');
  });
});
