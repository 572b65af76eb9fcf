import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  BundleNameRules,
  detectManifest,
  DomainError,
  ErrorCode,
  Labels,
  needsDependencyInstall,
  type BundleFacts,
  type BundleLimits,
  type BundleManifest,
  type LogSink,
} from '@sidecar/core';
import { extractBundle } from './extract.js';
import { formatBytes, tooLarge } from './messages.js';
import { dropBundleNpmConfig, refuseGitDependencies } from './npm-policy.js';
import { watchTreeSize } from './size-watch.js';
import { treeSize } from './tree-size.js';

/** Installs a bundle's declared dependencies into its folder. Declared here, by its one user. */
export interface DependencyInstaller {
  /** `app` owns the build (its own npm cache); `labels` mark what the install creates (e.g. the deploy). */
  install(opts: {
    dir: string;
    app: string;
    signal: AbortSignal;
    log: LogSink;
    labels?: Record<string, string>;
  }): Promise<void>;
}

export interface PrepareBundleOptions {
  source: string;
  /** A fresh directory of the caller's, which also removes it. */
  workDir: string;
  limits: BundleLimits;
  installer?: DependencyInstaller;
  /** Labels for what the build creates: `sidecar.paas/app` (required to install dependencies), `sidecar.paas/deploy`. */
  labels?: Record<string, string>;
  signal: AbortSignal;
  log: LogSink;
}

export interface PreparedBundle {
  /** The bundle, ready to be copied to /bundle: code, dependencies, `.sidecar/manifest.json`. */
  dir: string;
  manifest: BundleManifest;
  files: string[];
}

/** Where the runtime finds how to serve the bundle (see core's BundleManifest). */
export const MANIFEST_PATH = '.sidecar/manifest.json';

/** Upload → a folder the image builder can take: safe-extract, detect how to serve, install dependencies. */
export async function prepareBundle(opts: PrepareBundleOptions): Promise<PreparedBundle> {
  const { log, signal } = opts;
  const dir = join(opts.workDir, 'bundle');
  const extracted = await extractBundle({ source: opts.source, dest: dir, limits: opts.limits, signal });
  const n = extracted.files.length;
  log(
    `unpacked ${extracted.format} bundle: ${n} ${n === 1 ? 'file' : 'files'}, ${formatBytes(extracted.unpackedBytes)}`,
  );
  if (extracted.strippedFolder) log(`stripped the wrapping folder "${extracted.strippedFolder}/"`);

  const files = new Set(extracted.files);
  const facts: BundleFacts = {
    files,
    sidecarJson: await readJson(dir, files, 'sidecar.json'),
    packageJson: await readJson(dir, files, 'package.json'),
  };
  const manifest = detectManifest(facts);
  log(describe(manifest));

  if (needsDependencyInstall(facts)) {
    const pkg = facts.packageJson as { dependencies: object };
    const count = Object.keys(pkg.dependencies).length;
    if (!opts.installer) {
      throw new DomainError(
        ErrorCode.buildFailed,
        'package.json declares dependencies, but this platform has no dependency installer configured',
      );
    }
    const app = opts.labels?.[Labels.app];
    if (app === undefined) throw new Error(`prepareBundle: installing dependencies needs the ${Labels.app} label`);
    await yieldToLoop(); // the parse of a big package.json just ran: let other work in before the next pass over it
    await refuseGitDependencies(pkg as Record<string, unknown>);
    await dropBundleNpmConfig(dir, files, log);
    log(`installing ${count} ${count === 1 ? 'dependency' : 'dependencies'} with npm`);
    const install = { dir, app, signal, log, ...(opts.labels ? { labels: opts.labels } : {}) };
    await installWithinLimit(opts.installer, install, opts.limits.maxBuildBytes);
    await checkBuildSize(dir, opts.limits.maxBuildBytes, log);
  } else if ([...files].some((f) => f.startsWith('node_modules/'))) {
    log('using the node_modules folder shipped in the bundle');
  }

  // The bundle may ship its own .sidecar (even as a symlink): ours replaces it, never writes through it.
  await rm(join(dir, '.sidecar'), { recursive: true, force: true });
  await mkdir(join(dir, '.sidecar'), { mode: 0o755 });
  await writeFile(join(dir, MANIFEST_PATH), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644 });
  return { dir, manifest, files: extracted.files };
}

/**
 * Only regular files count (`files` lists no symlinks), so a `package.json -> /etc/shadow` is never
 * read. Parsed whole, so bounded: a file past the limit is refused before it is read.
 */
async function readJson(dir: string, files: ReadonlySet<string>, name: string): Promise<unknown> {
  if (!files.has(name)) return undefined;
  const path = join(dir, name);
  const max = BundleNameRules.maxManifestFileBytes;
  const { size } = await stat(path);
  if (size > max) throw tooLarge(`${name} is ${formatBytes(size)}, more than the ${formatBytes(max)} limit`);
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new DomainError(ErrorCode.bundleInvalid, `${name} is not valid JSON: ${(err as Error).message}`);
  }
}

const BUILD_LIMIT = (max: number) => `${formatBytes(max)} (the limit, SIDECAR_MAX_BUILD_BYTES)`;

/**
 * Runs the install while its folder is measured (size-watch.ts): a few lines of package.json can ask
 * for gigabytes, so an install whose folder grows past the limit is stopped while it writes, not only
 * refused once it is done (checkBuildSize, after it, measures exactly).
 */
async function installWithinLimit(
  installer: DependencyInstaller,
  install: Parameters<DependencyInstaller['install']>[0],
  max: number,
): Promise<void> {
  const watch = watchTreeSize({ dir: install.dir, maxBytes: max });
  try {
    await installer.install({ ...install, signal: AbortSignal.any([install.signal, watch.exceeded]) });
  } catch (err) {
    // The install's own failure (or the size) is what to report, not a measure that failed with it.
    await watch.stop().catch(() => undefined);
    if (watch.exceeded.aborted && !install.signal.aborted) {
      throw tooLarge(
        `npm install was stopped: the bundle with its installed dependencies grew past ${BUILD_LIMIT(max)}; ` +
          `ship fewer or smaller dependencies`,
      );
    }
    throw err;
  }
  await watch.stop();
}

/** The bundle with what npm installed is what goes into the image: capped, and said in the log. */
async function checkBuildSize(dir: string, max: number, log: LogSink): Promise<void> {
  const size = await treeSize(dir, { stopAbove: max });
  if (size > max) {
    throw tooLarge(
      `the bundle with its installed dependencies is more than ${BUILD_LIMIT(max)}: ship fewer or smaller dependencies`,
    );
  }
  log(`bundle with dependencies: ${formatBytes(size)}`);
}

function describe(m: BundleManifest): string {
  switch (m.mode) {
    case 'handler':
      return `detected handler entry ${m.entry}`;
    case 'process':
      return `detected process mode: start command "${m.start}"`;
    case 'static':
      return 'detected a static site (index.html)';
  }
}
