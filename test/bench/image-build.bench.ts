/**
 * `npx tsx test/bench/image-build.bench.ts`: how long making a logic image takes, two ways interleaved on
 * the same bundles: `docker load` of an archive holding only the bundle's layer (DockerImageBuilder, since
 * 0c4037c), and what the builder did before — create a container from logic-base, put the bundle in with
 * the archive API, commit it, remove the container. Written to docs/benchmarks/image-build-<time>.txt with
 * the commit and the machine's load; raw samples, median and p90. No assertion: timing is not a test.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { ensurePlatformImages } from '@sidecar/runtime-image';
// The worker exports no modules (it is a process); this benchmark measures two of its builder's parts.
// eslint-disable-next-line no-restricted-imports
import { packFolder } from '../../worker/src/builder/bundle-tar.js';
// eslint-disable-next-line no-restricted-imports
import { DockerImageBuilder } from '../../worker/src/builder/image-builder.js';
import { quantile, rawSamples, runHeader } from './deploy-bench-parts.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const docker = new Docker();
const repository = `sidecar-bench-image-${randomBytes(3).toString('hex')}`;
const out: string[] = [];
const say = (line: string) => {
  out.push(line);
  console.log(line);
};

/** A handler bundle of one file, as the deploy benchmark's; and one of 400 files of 16 KiB (6.4 MB). */
function bundles(root: string): { name: string; dir: string }[] {
  const small = join(root, 'small');
  mkdirSync(small);
  writeFileSync(join(small, 'index.js'), 'module.exports = (q, s) => s.end("hello");\n');
  const large = join(root, 'large');
  mkdirSync(join(large, 'node_modules', 'dep'), { recursive: true });
  writeFileSync(join(large, 'index.js'), 'module.exports = (q, s) => s.end("hello");\n');
  for (let i = 0; i < 400; i++)
    writeFileSync(join(large, 'node_modules', 'dep', `f${i}.js`), `// ${i}\n${'x'.repeat(16 * 1024)}\n`);
  return [
    { name: '1 file', dir: small },
    { name: '400 files, 6.4 MB', dir: large },
  ];
}

/** The builder's way before 0c4037c: a stopped container, the archive API, a commit. */
async function commitBuild(base: string, dir: string, tag: string): Promise<void> {
  const container = await docker.createContainer({ Image: base });
  try {
    await container.putArchive(packFolder({ dir, prefix: 'bundle' }), { path: '/' });
    await container.commit({ repo: tag.split(':')[0], tag: tag.split(':')[1], pause: false });
  } finally {
    await container.remove({ force: true });
  }
}

async function main(): Promise<void> {
  for (const line of runHeader('image build benchmark')) say(line);
  const { logicBase } = await ensurePlatformImages({ docker });
  const builder = new DockerImageBuilder({ docker, logicBaseImage: logicBase, repository });
  const root = mkdtempSync(join(tmpdir(), 'sidecar-image-bench-'));
  const made: string[] = [];
  const time = async (work: () => Promise<unknown>) => {
    const t0 = performance.now();
    await work();
    return performance.now() - t0;
  };
  try {
    for (const { name, dir } of bundles(root)) {
      const samples = { load: [] as number[], commit: [] as number[] };
      const input = (deployId: string) => ({
        app: 'bench',
        deployId,
        bundleDir: dir,
        manifest: { runtime: 'node' as const, mode: 'handler' as const, entry: 'index.js' },
        signal: new AbortController().signal,
        log: () => undefined,
      });
      // One of each, not counted: the builder reads the base's config once.
      await builder.build(input('warmup'));
      await commitBuild(logicBase, dir, `${repository}/bench:commit-warmup`);
      made.push(`${repository}/bench:warmup`, `${repository}/bench:commit-warmup`);
      for (let i = 0; i < RUNS; i++) {
        // Interleaved, the first of each pair alternating, so both see the same moments of the machine.
        const pair = [
          async () => samples.load.push(await time(() => builder.build(input(`load-${i}`)))),
          async () =>
            samples.commit.push(await time(() => commitBuild(logicBase, dir, `${repository}/bench:commit-${i}`))),
        ];
        for (const run of i % 2 === 0 ? pair : pair.reverse()) await run();
        made.push(`${repository}/bench:load-${i}`, `${repository}/bench:commit-${i}`);
      }
      say('');
      say(`bundle: ${name}`);
      say('| way | median | p90 | n |');
      say('|---|---|---|---|');
      for (const [way, xs] of Object.entries(samples))
        say(`| ${way} | ${quantile(xs, 0.5).toFixed(0)} ms | ${quantile(xs, 0.9).toFixed(0)} ms | ${xs.length} |`);
      for (const [way, xs] of Object.entries(samples)) say(`- ${way}: ${rawSamples(xs)}`);
    }
  } finally {
    for (const image of made)
      await docker
        .getImage(image)
        .remove({ force: true })
        .catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
  say(
    `load average at the end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const stamp = new Date().toISOString().slice(0, 16).replace(/[T:]/g, '-');
  mkdirSync('docs/benchmarks', { recursive: true });
  writeFileSync(`docs/benchmarks/image-build-${stamp}.txt`, `${out.join('\n')}\n`);
}

await main();
