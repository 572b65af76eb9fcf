import { readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleManifest } from '@sidecar/core';

export interface LoadedManifest {
  manifest: BundleManifest;
  /** The real path of `<workspace>/current` at load time: a later flip of the symlink never mixes releases. */
  bundleDir: string;
}

function invalid(message: string): Error {
  return new Error(`invalid .sidecar/manifest.json: ${message}`);
}

/** Validates by hand: the image has no node_modules, so no zod here. */
export function parseManifest(value: unknown): BundleManifest {
  if (typeof value !== 'object' || value === null) throw invalid('not a JSON object');
  const m = value as Record<string, unknown>;
  if (m.runtime !== 'node') throw invalid(`runtime must be "node", got ${JSON.stringify(m.runtime)}`);
  const str = (key: string) => {
    const v = m[key];
    if (typeof v !== 'string' || v === '') throw invalid(`mode "${String(m.mode)}" needs a non-empty "${key}"`);
    return v;
  };
  switch (m.mode) {
    case 'handler':
      return { runtime: 'node', mode: 'handler', entry: str('entry') };
    case 'process':
      return { runtime: 'node', mode: 'process', start: str('start') };
    case 'static':
      return { runtime: 'node', mode: 'static', root: str('root') };
    default:
      throw invalid(`unknown mode ${JSON.stringify(m.mode)}`);
  }
}

export async function loadManifest(workspace: string): Promise<LoadedManifest> {
  const bundleDir = await realpath(join(workspace, 'current'));
  const text = await readFile(join(bundleDir, '.sidecar', 'manifest.json'), 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new Error(`invalid .sidecar/manifest.json: ${(cause as Error).message}`, { cause });
  }
  return { manifest: parseManifest(json), bundleDir };
}

/** True when `child` is `root` or inside it (both absolute, normalized). */
export function isInside(root: string, child: string): boolean {
  return child === root || child.startsWith(root.endsWith('/') ? root : `${root}/`);
}
