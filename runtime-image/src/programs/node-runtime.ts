/**
 * The stable runtime main container's process (runs inside runtime-node as
 * /sidecar/runtime.js). Loads the logic the sidecar put at <workspace>/current
 * and serves it on PORT. Node builtins only: the image has no node_modules.
 *
 * Env: PORT (default 8080), SIDECAR_WORKSPACE (default /workspace),
 *      SIDECAR_DRAIN_TIMEOUT_MS (default 25000, below the 30 s grace period).
 */
import type { BundleManifest } from '@sidecar/core';
import { loadHandler, type Listener } from './runtime/handler.js';
import { createRuntimeServer } from './runtime/http-server.js';
import { loadManifest } from './runtime/manifest.js';
import { runProcess } from './runtime/process-mode.js';
import { staticListener } from './runtime/static-files.js';

const port = process.env.PORT ?? '8080';
const workspace = process.env.SIDECAR_WORKSPACE ?? '/workspace';
const drainTimeoutMs = Number(process.env.SIDECAR_DRAIN_TIMEOUT_MS ?? 25_000);

const log = (line: string) => process.stderr.write(`runtime: ${line}\n`);
const describe = (err: unknown) => (err instanceof Error ? (err.stack ?? err.message) : String(err));

function describeManifest(m: BundleManifest): string {
  if (m.mode === 'handler') return `handler mode, entry ${m.entry}`;
  if (m.mode === 'static') return `static mode, root ${m.root}`;
  return `process mode, start "${m.start}"`;
}

async function loadListener(m: Exclude<BundleManifest, { mode: 'process' }>, bundleDir: string): Promise<Listener> {
  if (m.mode === 'static') return staticListener({ bundleDir, root: m.root });
  return loadHandler({ bundleDir, entry: m.entry, fallbackHost: `localhost:${port}` });
}

async function serve(loading: ReturnType<typeof loadManifest>): Promise<void> {
  const rt = createRuntimeServer();
  // Listen before loading: the readiness probe gets a clear 503 instead of a refused connection.
  await new Promise<void>((resolve) => rt.server.listen(Number(port), resolve));

  const stop = (signal: string) => {
    log(`${signal}: draining`);
    void rt.drain(drainTimeoutMs).then((how) => {
      log(how === 'drained' ? 'drained, exiting' : `drain timed out after ${drainTimeoutMs} ms, exiting`);
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  try {
    const { manifest, bundleDir } = await loading;
    if (manifest.mode === 'process') throw new Error('unreachable: process mode is not served over HTTP');
    log(`serving ${bundleDir} (${describeManifest(manifest)}) on port ${port}`);
    rt.setListener(await loadListener(manifest, bundleDir));
    log('logic loaded: ready');
  } catch (err) {
    // Stay up and never ready: the pod shows the failure instead of a crash loop hiding the message.
    log(`the logic failed to load; not ready:\n${describe(err)}`);
    // The stack can be long; end with one line a tail of the log always shows.
    log(`not ready: the logic failed to load: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function main(): Promise<void> {
  const loading = loadManifest(workspace);
  // Process mode must not listen: the user's process owns the port.
  const first = await loading.catch(() => undefined);
  if (first?.manifest.mode === 'process') {
    log(`running ${first.bundleDir} (${describeManifest(first.manifest)}) with PORT=${port}`);
    const code = await runProcess({ start: first.manifest.start, bundleDir: first.bundleDir, port });
    log(`process exited with code ${code}`);
    process.exit(code);
  }
  await serve(loading);
}

main().catch((err: unknown) => {
  log(`fatal: ${describe(err)}`);
  process.exit(1);
});
