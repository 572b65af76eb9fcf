import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  detectManifest,
  DomainError,
  ErrorCode,
  needsDependencyInstall,
  type BundleFacts,
  type BundleLimits,
  type BundleManifest,
  type LogSink,
} from '@sidecar/core';
import { formatBytes } from './bundle-writer.js';
import { extractBundle } from './extract.js';

/** Installs a bundle's declared dependencies into its folder. Declared here, by its one user. */
export interface DependencyInstaller {
  /** `labels` mark what the install creates (e.g. the deploy it belongs to). */
  install(opts: { dir: string; signal: AbortSignal; log: LogSink; labels?: Record<string, string> }): Promise<void>;
}

export interface PrepareBundleOptions {
  source: string;
  /** A fresh directory of the caller's, which also removes it. */
  workDir: string;
  limits: BundleLimits;
  installer?: DependencyInstaller;
  /** Labels for what the build creates, e.g. `sidecar.paas/deploy`. */
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
    const count = Object.keys((facts.packageJson as { dependencies: object }).dependencies).length;
    if (!opts.installer) {
      throw new DomainError(
        ErrorCode.buildFailed,
        'package.json declares dependencies, but this platform has no dependency installer configured',
      );
    }
    log(`installing ${count} ${count === 1 ? 'dependency' : 'dependencies'} with npm`);
    await opts.installer.install({ dir, signal, log, ...(opts.labels ? { labels: opts.labels } : {}) });
  } else if ([...files].some((f) => f.startsWith('node_modules/'))) {
    log('using the node_modules folder shipped in the bundle');
  }

  // The bundle may ship its own .sidecar (even as a symlink): ours replaces it, never writes through it.
  await rm(join(dir, '.sidecar'), { recursive: true, force: true });
  await mkdir(join(dir, '.sidecar'), { mode: 0o755 });
  await writeFile(join(dir, MANIFEST_PATH), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644 });
  return { dir, manifest, files: extracted.files };
}

/** Only regular files count (`files` lists no symlinks), so a `package.json -> /etc/shadow` is never read. */
async function readJson(dir: string, files: ReadonlySet<string>, name: string): Promise<unknown> {
  if (!files.has(name)) return undefined;
  const text = await readFile(join(dir, name), 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new DomainError(ErrorCode.bundleInvalid, `${name} is not valid JSON: ${(err as Error).message}`);
  }
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
