/** Loads a handler-mode bundle entry and turns it into a Node request listener. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fetchListener, type FetchHandler } from './fetch-adapter.js';
import { isInside } from './manifest.js';

export type Listener = (req: IncomingMessage, res: ServerResponse) => unknown;

function isFetchHandler(v: unknown): v is FetchHandler {
  return typeof v === 'object' && v !== null && typeof (v as { fetch?: unknown }).fetch === 'function';
}

/** The entry's default export, or `module.exports` (which ESM import exposes as `default`). */
function exported(mod: Record<string, unknown>): unknown {
  let value: unknown = 'default' in mod ? mod.default : mod;
  // Transpiled ESM in a CommonJS file: `exports.default = …` with `__esModule`.
  if (
    typeof value === 'object' &&
    value !== null &&
    (value as { __esModule?: unknown }).__esModule &&
    'default' in value
  ) {
    value = (value as { default: unknown }).default;
  }
  // An ESM entry with a named `fetch` export and no default.
  if (value === undefined && typeof mod.fetch === 'function') value = { fetch: mod.fetch };
  return value;
}

export async function loadHandler(opts: { bundleDir: string; entry: string; fallbackHost: string }): Promise<Listener> {
  const file = await realpath(resolve(opts.bundleDir, opts.entry));
  if (!isInside(opts.bundleDir, file)) throw new Error(`entry "${opts.entry}" resolves outside the bundle`);
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const value = exported(mod);
  if (typeof value === 'function') return value as Listener;
  if (isFetchHandler(value)) return fetchListener(value, opts.fallbackHost);
  throw new Error(
    `entry "${opts.entry}" must export (default or module.exports) a function (req, res) or an object with fetch(request); ` +
      `it exports ${value === null ? 'null' : typeof value}`,
  );
}
