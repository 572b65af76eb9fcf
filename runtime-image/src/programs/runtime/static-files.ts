/** Serves a static-mode bundle: files under the root, never anything outside it. */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isInside } from './manifest.js';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.webmanifest': 'application/manifest+json',
};

export function contentTypeFor(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

type Resolved = { status: 200; file: string; size: number } | { status: 400 | 404 };

/** Maps a request path to a real file inside `root` (itself a real path), or says why not. */
export async function resolveStatic(root: string, rawUrl: string): Promise<Resolved> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(new URL(rawUrl, 'http://static.invalid').pathname);
  } catch {
    return { status: 400 };
  }
  if (decoded.includes('\0')) return { status: 400 };
  // Lexical check first (`..` after decoding), then the real path (symlinks).
  const candidate = resolve(root, `.${decoded.startsWith('/') ? decoded : `/${decoded}`}`);
  if (!isInside(root, candidate)) return { status: 404 };
  try {
    let file = await realpath(candidate);
    if (!isInside(root, file)) return { status: 404 };
    let info = await stat(file);
    if (info.isDirectory()) {
      file = await realpath(join(file, 'index.html'));
      if (!isInside(root, file)) return { status: 404 };
      info = await stat(file);
    }
    return info.isFile() ? { status: 200, file, size: info.size } : { status: 404 };
  } catch {
    return { status: 404 };
  }
}

export async function staticListener(opts: { bundleDir: string; root: string }) {
  const root = await realpath(resolve(opts.bundleDir, opts.root));
  if (!isInside(opts.bundleDir, root)) throw new Error(`static root "${opts.root}" resolves outside the bundle`);
  if (!(await stat(root)).isDirectory()) throw new Error(`static root "${opts.root}" is not a directory`);

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('method not allowed\n');
      return;
    }
    const found = await resolveStatic(root, req.url ?? '/');
    if (found.status !== 200) {
      const text = found.status === 400 ? 'bad request\n' : 'not found\n';
      res.writeHead(found.status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
      return;
    }
    res.writeHead(200, { 'content-type': contentTypeFor(found.file), 'content-length': found.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await pipeline(createReadStream(found.file), res);
  };
}
