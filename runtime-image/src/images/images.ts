/**
 * The platform images (pause, logic-base, runtime-node, builder-node, and the
 * platform sidecars log-shipper, tls-terminator and procinfo), built
 * locally from data-described contexts and tagged by a hash of their content:
 * same inputs → same tag → nothing to build, so a platform restart is fast.
 */
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { hashContext, packContext, type BuildContext } from './build-context.js';
import { readBuildOutput } from './build-output.js';
import {
  builderNodeContext,
  logicBaseContext,
  logShipperContext,
  nodeBaseContext,
  pauseContext,
  procinfoContext,
  runtimeNodeContext,
  tlsTerminatorContext,
  type HostPaths,
} from './contexts.js';

export interface PlatformImages {
  pause: string;
  logicBase: string;
  runtimeNode: string;
  builderNode: string;
  /** Platform sidecars (docs/sidecars.md): generic, never built per app. */
  logShipper: string;
  tlsTerminator: string;
  procinfo: string;
}

export interface EnsureImagesOptions {
  docker: Dockerode;
  log?: (line: string) => void;
  /** Host file locations; the defaults are the Debian paths of our machines. */
  paths?: Partial<HostPaths>;
  /**
   * An upstream Node image to base runtime-node on (e.g. `node:20-bookworm-slim`).
   * Used when present locally or pullable; otherwise the offline base is built.
   */
  upstreamNodeImage?: string;
  /** Bound on the pull attempt of upstreamNodeImage. */
  pullTimeoutMs?: number;
}

// `../../` from both src/images/ (tests run the TS) and dist/images/ (compiled) is the package directory.
const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));

export const DEFAULT_HOST_PATHS: HostPaths = {
  busybox: '/bin/busybox',
  node: '/usr/bin/node',
  haproxy: '/usr/sbin/haproxy',
  npmDir: '/usr/lib/node_modules/npm',
  caBundle: '/etc/ssl/certs/ca-certificates.crt',
  runtimeDist: `${PACKAGE_DIR}dist/programs`,
  packageDir: PACKAGE_DIR.replace(/\/$/, ''),
  cc: 'cc',
};

const REPOSITORY = 'sidecar';

async function imageExists(docker: Dockerode, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

interface EnsureOne {
  docker: Dockerode;
  name: string;
  context: BuildContext;
  log: (line: string) => void;
}

/** Builds `sidecar/<name>:<hash12>` unless it already exists; returns the ref. */
async function ensureImage({ docker, name, context, log }: EnsureOne): Promise<string> {
  const ref = `${REPOSITORY}/${name}:${(await hashContext(context)).slice(0, 12)}`;
  if (await imageExists(docker, ref)) {
    log(`${ref}: present`);
    return ref;
  }
  const started = Date.now();
  log(`${ref}: building`);
  // No build cache (the images are content-tagged, built once): Docker 20.10's cache probe walks the parent's
  // children (for FROM scratch, every parentless image: loaded logic images too) and fails the build ("unable to
  // find image") when one of them is removed meanwhile, as app deletions and retention do.
  const output = await docker.buildImage(packContext(context), {
    t: ref,
    buildargs: { ...context.buildArgs },
    nocache: true,
    rm: true,
    forcerm: true,
  });
  await readBuildOutput(output, (m) => {
    const line = m.stream?.trimEnd();
    if (line) log(`${name}: ${line}`);
  });
  log(`${ref}: built in ${Date.now() - started} ms`);
  return ref;
}

/** Resolves the upstream node image if it is present or can be pulled in time; undefined otherwise. */
async function tryUpstream(opts: EnsureImagesOptions, log: (line: string) => void): Promise<string | undefined> {
  const ref = opts.upstreamNodeImage;
  if (!ref) return undefined;
  if (await imageExists(opts.docker, ref)) return ref;
  const abort = AbortSignal.timeout(opts.pullTimeoutMs ?? 120_000);
  try {
    log(`${ref}: pulling`);
    const stream = await opts.docker.pull(ref, { abortSignal: abort });
    // Pull progress uses the same message format as a build, errors included.
    await readBuildOutput(stream as NodeJS.ReadableStream & AsyncIterable<Buffer>);
    return ref;
  } catch (err) {
    log(`${ref}: pull failed (${(err as Error).message.trim()}); using the offline node base`);
    return undefined;
  }
}

const inFlight = new WeakMap<Dockerode, Promise<PlatformImages>>();

/**
 * Ensures the platform images exist and returns their refs. Concurrent
 * calls against the same Docker client share one run.
 */
export function ensurePlatformImages(opts: EnsureImagesOptions): Promise<PlatformImages> {
  const running = inFlight.get(opts.docker);
  if (running) return running;
  const run = ensureAll(opts).finally(() => inFlight.delete(opts.docker));
  inFlight.set(opts.docker, run);
  return run;
}

async function ensureAll(opts: EnsureImagesOptions): Promise<PlatformImages> {
  const { docker } = opts;
  const log = opts.log ?? (() => {});
  const paths: HostPaths = { ...DEFAULT_HOST_PATHS, ...opts.paths };
  const one = async (name: string, context: Promise<BuildContext>) =>
    ensureImage({ docker, name, context: await context, log });

  // The small images build alongside the node chain; the chain itself is sequential.
  const pause = one('pause', pauseContext(paths));
  const logicBase = one('logic-base', logicBaseContext(paths));
  const procinfo = one('procinfo', procinfoContext(paths));
  const logShipper = one('log-shipper', logShipperContext(paths));
  const tlsTerminator = one('tls-terminator', tlsTerminatorContext(paths));
  const nodeChain = (async () => {
    const base = (await tryUpstream(opts, log)) ?? (await one('node-base', nodeBaseContext(paths)));
    const runtimeNode = await one('runtime-node', runtimeNodeContext(paths, base, log));
    const builderNode = await one('builder-node', builderNodeContext(paths, runtimeNode));
    return { runtimeNode, builderNode };
  })();
  const [p, l, pi, ls, tls, chain] = await Promise.all([
    pause,
    logicBase,
    procinfo,
    logShipper,
    tlsTerminator,
    nodeChain,
  ]);
  return { pause: p, logicBase: l, procinfo: pi, logShipper: ls, tlsTerminator: tls, ...chain };
}
