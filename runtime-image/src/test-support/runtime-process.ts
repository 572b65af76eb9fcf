/** Test helpers: a bundle workspace on disk, the compiled runtime as a child process, plain HTTP. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BundleManifest } from '@sidecar/core';

export const RUNTIME_JS = fileURLToPath(new URL('../../dist/programs/node-runtime.js', import.meta.url));

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

import { freePort } from '../../../deploy/single-host/src/free-port.js';

export { freePort };

/** A workspace laid out as the loader leaves it: releases/r1 + current → releases/r1. */
export async function makeWorkspace(
  files: Record<string, string>,
  manifest: BundleManifest,
): Promise<{ workspace: string; bundleDir: string }> {
  const workspace = await mkdtemp(join(tmpdir(), 'sidecar-runtime-test-'));
  const bundleDir = join(workspace, 'releases', 'r1');
  const all = { ...files, '.sidecar/manifest.json': JSON.stringify(manifest) };
  for (const [name, content] of Object.entries(all)) {
    await mkdir(dirname(join(bundleDir, name)), { recursive: true });
    await writeFile(join(bundleDir, name), content);
  }
  await symlink('releases/r1', join(workspace, 'current'));
  return { workspace, bundleDir };
}

export interface RuntimeProcess {
  port: number;
  child: ChildProcess;
  stderr(): string;
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export async function startRuntime(opts: { workspace: string; env?: Record<string, string> }): Promise<RuntimeProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [RUNTIME_JS], {
    env: { ...process.env, PORT: String(port), SIDECAR_WORKSPACE: opts.workspace, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    port,
    child,
    stderr: () => err,
    stdout: () => out,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      await rm(opts.workspace, { recursive: true, force: true });
    },
  };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with the path sent exactly as given (no client-side URL normalization). */
export function http(opts: {
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  host?: string;
}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: opts.host ?? '127.0.0.1',
        port: opts.port,
        path: opts.path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Resolves once GET /__sidecar/ready answers 200. */
export function waitReady(port: number, timeoutMs = 10_000): Promise<true> {
  return waitFor(
    'runtime ready',
    async () => (await http({ port, path: '/__sidecar/ready' })).status === 200 || undefined,
    timeoutMs,
  );
}
