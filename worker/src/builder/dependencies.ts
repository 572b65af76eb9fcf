import { randomBytes } from 'node:crypto';
import { lchown, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type Docker from 'dockerode';
import { DomainError, ErrorCode, Labels, type LogSink } from '@sidecar/core';
import { formatBytes } from './messages.js';
import type { DependencyInstaller } from './prepare.js';
import { treeSize } from './tree-size.js';

export interface NpmDependencyInstallerOptions {
  docker: Docker;
  /** Node + npm image, user 1000, HOME=/home/app, no entrypoint (the runtime-image package's builderNode). */
  builderImage: string;
  /**
   * Host folder holding one npm cache per app (`<data dir>/npm-cache`): an app's builds reuse its
   * downloads, and no app's build can write into what another app's build reads.
   */
  cacheRoot: string;
  /** An app's cache larger than this is emptied before its next install; default 1 GiB. */
  maxCacheBytes?: number;
  /** The only registry npm uses, whatever the bundle says; default the public npm registry. */
  registry?: string;
  /** HTTP(S) proxy for npm, from the platform's settings only. */
  proxy?: string;
  /** Hosts npm reaches without the proxy (npm's `noproxy`). */
  noProxy?: string;
  /**
   * "Extra CA file for builds": a PEM bundle npm must trust besides its built-in CAs, for
   * networks that intercept TLS (a corporate proxy). Mounted read-only; NODE_EXTRA_CA_CERTS points at it.
   */
  extraCaFile?: string;
  memoryBytes?: number;
  timeoutMs?: number;
}

import { DEFAULT_NPM_REGISTRY } from '@sidecar/core';
export { DEFAULT_NPM_REGISTRY };
const DEFAULT_MAX_CACHE_BYTES = 1024 * 1024 * 1024;
const BUILD_UID = 1000;
const CA_PATH = '/etc/sidecar/extra-ca.pem';
const CACHE_PATH = '/home/app/.npm';
/** npm's `git`: a program that does not exist, so no git dependency is ever cloned (npm-policy.ts). */
export const NO_GIT = '/nonexistent/git-dependencies-are-disabled';
const APP_NAME = /^[a-z0-9][a-z0-9-]*$/;

/**
 * The npm command, every security-relevant setting given on the command line: flags outrank any
 * config file. Lifecycle scripts off (a dependency's install script is arbitrary code from the
 * internet); TLS always verified; the platform's registry also for a lockfile's `resolved` URLs;
 * no user config.
 */
function npmInstallCommand(o: NpmDependencyInstallerOptions): string[] {
  return [
    'npm',
    'install',
    '--omit=dev',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--no-update-notifier',
    `--registry=${o.registry ?? DEFAULT_NPM_REGISTRY}`,
    '--replace-registry-host=always',
    '--strict-ssl=true',
    `--git=${NO_GIT}`,
    `--cache=${CACHE_PATH}`,
    '--userconfig=/dev/null',
    ...(o.proxy ? [`--proxy=${o.proxy}`, `--https-proxy=${o.proxy}`] : []),
    ...(o.noProxy ? [`--noproxy=${o.noProxy}`] : []),
  ];
}

const TAIL_LINES = 12;

/** Runs `npm install` for a bundle in a throwaway, locked-down container. */
export class NpmDependencyInstaller implements DependencyInstaller {
  constructor(private readonly opts: NpmDependencyInstallerOptions) {}

  async install({
    dir,
    app,
    signal,
    log,
    labels,
  }: {
    dir: string;
    app: string;
    signal: AbortSignal;
    log: LogSink;
    labels?: Record<string, string>;
  }): Promise<void> {
    const { docker, builderImage, extraCaFile } = this.opts;
    const timeoutMs = this.opts.timeoutMs ?? 5 * 60_000;
    const memory = this.opts.memoryBytes ?? 1024 * 1024 * 1024;
    if (signal.aborted) throw cancelled();
    await chownTree(dir, BUILD_UID); // our temp dir; npm runs as uid 1000 and must write node_modules
    const cacheDir = await this.appCache(app, log);

    await removeEarlierAttempts(docker, labels?.[Labels.deploy]);
    const container = await docker.createContainer({
      // Readable in `docker ps`; the random part keeps a retry's name free while the earlier one is removed.
      name: `sidecar-npm-${app}-${randomBytes(3).toString('hex')}`,
      Image: builderImage,
      Cmd: npmInstallCommand(this.opts),
      User: `${BUILD_UID}:${BUILD_UID}`,
      WorkingDir: '/build',
      // Only what we set: the image's npm_config_* defaults, and nothing from the bundle.
      Env: [
        'HOME=/home/app',
        `npm_config_cache=${CACHE_PATH}`,
        ...(extraCaFile ? [`NODE_EXTRA_CA_CERTS=${CA_PATH}`] : []),
      ],
      Labels: { ...labels, [Labels.managed]: 'true', [Labels.kind]: 'npm-install' },
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        Mounts: [
          { Type: 'bind', Source: resolve(dir), Target: '/build' },
          { Type: 'bind', Source: resolve(cacheDir), Target: CACHE_PATH },
          ...(extraCaFile
            ? [{ Type: 'bind' as const, Source: resolve(extraCaFile), Target: CA_PATH, ReadOnly: true }]
            : []),
        ],
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Memory: memory,
        MemorySwap: memory,
        PidsLimit: 256,
        NanoCpus: 1e9,
        // Like app containers: nothing writable but the bundle, the npm cache and a tmpfs.
        ReadonlyRootfs: true,
        Tmpfs: { '/tmp': 'rw,nosuid,nodev,size=256m' },
      },
    });
    const tail: string[] = [];
    const onLine = (line: string) => {
      log(line);
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    };
    let timedOut = false;
    const kill = () => void container.kill().catch(() => {}); // already stopped is fine
    const timer = setTimeout(() => ((timedOut = true), kill()), timeoutMs);
    signal.addEventListener('abort', kill);
    try {
      const stream = await container.attach({ stream: true, stdout: true, stderr: true });
      const ended = new Promise<void>((done) =>
        stream
          .once('end', done)
          .once('close', done)
          .once('error', () => done()),
      );
      const stdout = lineWriter(onLine);
      const stderr = lineWriter(onLine);
      docker.modem.demuxStream(stream, stdout, stderr);
      await container.start();
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      // The last lines may still be in flight when wait() answers; bounded, should the stream never end.
      await Promise.race([ended, delay(5000, undefined, { ref: false })]);
      stdout.end();
      stderr.end();
      if (signal.aborted) throw cancelled();
      if (timedOut)
        throw new DomainError(
          ErrorCode.buildFailed,
          `npm install took longer than ${Math.round(timeoutMs / 1000)} s and was stopped`,
        );
      if (StatusCode !== 0) {
        const { State } = await container.inspect();
        const why = State.OOMKilled
          ? `ran out of memory (limit ${Math.round(memory / 1024 / 1024)} MiB)`
          : tail.some((l) => l.includes(NO_GIT))
            ? `failed: a dependency (maybe not a direct one) is a git dependency, and git dependencies are not installed here (exit ${StatusCode})`
            : `failed (exit ${StatusCode})`;
        throw new DomainError(ErrorCode.buildFailed, `npm install ${why}: ${tail.join('\n')}`);
      }
    } catch (err) {
      if (signal.aborted && !(err instanceof DomainError && err.code === ErrorCode.cancelled)) throw cancelled(err);
      throw err;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', kill);
      await container.remove({ force: true }).catch(() => {});
    }
  }

  /**
   * The app's own npm cache folder, created owned by the build user; emptied first when it has grown
   * past the limit (each build can add what it downloaded, so it is bounded between builds).
   */
  private async appCache(app: string, log: LogSink): Promise<string> {
    if (!APP_NAME.test(app)) throw new Error(`npm cache: "${app}" is not an app name`);
    const dir = join(this.opts.cacheRoot, app);
    const max = this.opts.maxCacheBytes ?? DEFAULT_MAX_CACHE_BYTES;
    if ((await treeSize(dir, { stopAbove: max }).catch(notFoundAsZero)) > max) {
      await rm(dir, { recursive: true, force: true });
      log(`the app's npm cache was larger than ${formatBytes(max)}: starting with an empty one`);
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await lchown(dir, BUILD_UID, BUILD_UID);
    return dir;
  }
}

const notFoundAsZero = (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? 0 : Promise.reject(err));

const cancelled = (cause?: unknown) => new DomainError(ErrorCode.cancelled, 'dependency install cancelled', { cause });

/** A sink that calls `onLine` per complete line; lines may span chunks. */
function lineWriter(onLine: (line: string) => void): Writable {
  let rest = '';
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = (rest + chunk.toString()).split(/\r?\n/);
      rest = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') onLine(line);
      done();
    },
    final(done) {
      if (rest.trim() !== '') onLine(rest);
      rest = '';
      done();
    },
  });
}

/** chown -R without following symlinks (lchown): a link in the bundle must not hand a host file to uid 1000. */
async function chownTree(path: string, uid: number): Promise<void> {
  await lchown(path, uid, uid);
  if (!(await lstat(path)).isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name), uid);
}

/**
 * The npm containers of earlier attempts at the same deploy: a worker killed mid-build never
 * removed its own, and this retry is the first to know it is gone.
 */
async function removeEarlierAttempts(docker: Docker, deployId: string | undefined): Promise<void> {
  if (deployId === undefined) return;
  const left = await docker.listContainers({
    all: true,
    filters: { label: [`${Labels.managed}=true`, `${Labels.kind}=npm-install`, `${Labels.deploy}=${deployId}`] },
  });
  await Promise.all(
    left.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
}
