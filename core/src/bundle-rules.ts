import { DomainError, ErrorCode } from './errors.js';

/** Limits on what a bundle may be (API.md "The bundle"); settable per platform. */
export interface BundleLimits {
  maxCompressedBytes: number;
  maxUnpackedBytes: number;
  /** Files, folders (also those only implied by a deeper name) and links written to disk. */
  maxEntries: number;
  /** The bundle with the dependencies the build installed: what goes into the image. */
  maxBuildBytes: number;
}
export const DEFAULT_BUNDLE_LIMITS: BundleLimits = {
  maxCompressedBytes: 100 * 1024 * 1024,
  maxUnpackedBytes: 500 * 1024 * 1024,
  maxEntries: 20_000,
  maxBuildBytes: 1024 * 1024 * 1024,
};

/**
 * Fixed rules on names and small files inside a bundle, not settings: they bound how much work one
 * entry can cost the worker (every check on a name is linear in these), and no real project comes near.
 */
export const BundleNameRules = {
  /** Bytes in an entry name (UTF-8), as Linux's PATH_MAX. */
  maxNameBytes: 4096,
  /** Path segments in an entry name. */
  maxDepth: 256,
  /** Bytes in a symlink's target or a hard link's source name. */
  maxLinkTargetBytes: 4096,
  /**
   * Bytes in a tar extended header (pax `x`/`g`, GNU `L`/`K`): room for a longest name, a longest link
   * target and the usual extra records (mtime, xattrs); a bigger one is refused before it is buffered.
   */
  maxExtendedHeaderBytes: 16 * 1024,
  /** Bytes in `package.json` and `sidecar.json`, which the worker parses whole. */
  maxManifestFileBytes: 1024 * 1024,
} as const;

/** How the runtime serves a bundle; written into the logic image at `.sidecar/manifest.json`. */
export type BundleManifest =
  | { runtime: 'node'; mode: 'handler'; entry: string }
  | { runtime: 'node'; mode: 'process'; start: string }
  | { runtime: 'node'; mode: 'static'; root: string };

export const HANDLER_ENTRY_CANDIDATES = ['index.js', 'index.mjs', 'index.cjs', 'server.js', 'app.js'] as const;

export interface BundleFacts {
  /** Every regular file of the bundle, as a relative POSIX path. */
  files: ReadonlySet<string>;
  /** Parsed `sidecar.json`, if present. */
  sidecarJson?: unknown;
  /** Parsed `package.json`, if present. */
  packageJson?: unknown;
}

const invalid = (message: string) => new DomainError(ErrorCode.bundleInvalid, message);

function objectOrEmpty(v: unknown, file: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${file} must be a JSON object`);
  return v as Record<string, unknown>;
}

function optionalString(obj: Record<string, unknown>, key: string, file: string): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw invalid(`${file}: "${key}" must be a non-empty string`);
  return v;
}

function normalizeEntry(p: string): string {
  return p.replace(/^\.\//, '');
}

/**
 * Decides how a bundle is served (API.md "The bundle"): `start` → process mode;
 * else a handler entry from sidecar.json, package.json `main`, or the first
 * candidate file; else `scripts.start` → process mode; else `index.html` → static.
 */
export function detectManifest(facts: BundleFacts): BundleManifest {
  const sidecar = objectOrEmpty(facts.sidecarJson, 'sidecar.json');
  const pkg = objectOrEmpty(facts.packageJson, 'package.json');
  const runtime = optionalString(sidecar, 'runtime', 'sidecar.json') ?? 'node';
  if (runtime !== 'node') throw invalid(`sidecar.json: runtime "${runtime}" is not supported (supported: node)`);

  const start = optionalString(sidecar, 'start', 'sidecar.json');
  if (start) return { runtime: 'node', mode: 'process', start };

  const declared = optionalString(sidecar, 'entry', 'sidecar.json');
  if (declared) {
    const entry = normalizeEntry(declared);
    if (!facts.files.has(entry)) throw invalid(`sidecar.json: entry "${declared}" is not a file in the bundle`);
    return { runtime: 'node', mode: 'handler', entry };
  }
  const main = optionalString(pkg, 'main', 'package.json');
  if (main) {
    const entry = normalizeEntry(main);
    const found = [entry, `${entry}.js`, `${entry}/index.js`].find((c) => facts.files.has(c));
    if (!found) throw invalid(`package.json: main "${main}" is not a file in the bundle`);
    return { runtime: 'node', mode: 'handler', entry: found };
  }
  const candidate = HANDLER_ENTRY_CANDIDATES.find((c) => facts.files.has(c));
  if (candidate) return { runtime: 'node', mode: 'handler', entry: candidate };

  const scripts = objectOrEmpty(pkg.scripts, 'package.json scripts');
  const scriptStart = optionalString(scripts, 'start', 'package.json scripts');
  if (scriptStart) return { runtime: 'node', mode: 'process', start: scriptStart };

  if (facts.files.has('index.html')) return { runtime: 'node', mode: 'static', root: '.' };

  throw invalid(
    `no entry found: add sidecar.json {"entry": ...} or {"start": ...}, a package.json "main" or "scripts.start", ` +
      `one of ${HANDLER_ENTRY_CANDIDATES.join(', ')}, or an index.html for a static site`,
  );
}

/** Dependencies are installed at build time when declared and not shipped. */
export function needsDependencyInstall(facts: BundleFacts): boolean {
  const pkg = objectOrEmpty(facts.packageJson, 'package.json');
  const deps = pkg.dependencies;
  const hasDeps = typeof deps === 'object' && deps !== null && Object.keys(deps).length > 0;
  const shipsModules = [...facts.files].some((f) => f.startsWith('node_modules/'));
  return hasDeps && !shipsModules;
}

/** The npm registry builds use unless SIDECAR_NPM_REGISTRY names another. */
export const DEFAULT_NPM_REGISTRY = 'https://registry.npmjs.org/';
