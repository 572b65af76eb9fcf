import { lchown, lstat, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type Docker from 'dockerode';
import { DomainError, ErrorCode, Labels, type LogSink } from '@sidecar/core';
import type { DependencyInstaller } from './prepare.js';

export interface NpmDependencyInstallerOptions {
  docker: Docker;
  /** Node + npm image, user 1000, HOME=/home/app, no entrypoint (the runtime-image package's builderNode). */
  builderImage: string;
  /**
   * "Extra CA file for builds": a PEM bundle npm must trust besides its built-in CAs, for
   * networks that intercept TLS (a corporate proxy). Mounted read-only; NODE_EXTRA_CA_CERTS points at it.
   */
  extraCaFile?: string;
  memoryBytes?: number;
  timeoutMs?: number;
  /** Named volume for npm's cache; default `sidecar-npm-cache`. */
  cacheVolume?: string;
}

/** Named volume holding npm's cache between builds, so repeat installs mostly skip downloads. */
export const NPM_CACHE_VOLUME = 'sidecar-npm-cache';
const BUILD_UID = 1000;
const CA_PATH = '/etc/sidecar/extra-ca.pem';
// Lifecycle scripts off: a dependency's install script is arbitrary code from the internet.
const NPM_INSTALL = [
  'npm',
  'install',
  '--omit=dev',
  '--ignore-scripts',
  '--no-audit',
  '--no-fund',
  '--no-update-notifier',
];
const TAIL_LINES = 12;

/** Runs `npm install` for a bundle in a throwaway, locked-down container. */
export class NpmDependencyInstaller implements DependencyInstaller {
  private volumeReady: Promise<unknown> | undefined;

  constructor(private readonly opts: NpmDependencyInstallerOptions) {}

  async install({
    dir,
    signal,
    log,
    labels,
  }: {
    dir: string;
    signal: AbortSignal;
    log: LogSink;
    labels?: Record<string, string>;
  }): Promise<void> {
    const { docker, builderImage, extraCaFile } = this.opts;
    const cacheVolume = this.opts.cacheVolume ?? NPM_CACHE_VOLUME;
    const timeoutMs = this.opts.timeoutMs ?? 5 * 60_000;
    const memory = this.opts.memoryBytes ?? 1024 * 1024 * 1024;
    if (signal.aborted) throw cancelled();
    await chownTree(dir, BUILD_UID); // our temp dir; npm runs as uid 1000 and must write node_modules
    // Creating an existing volume is a no-op; once per installer is enough. A failure is retried next time.
    this.volumeReady ??= docker.createVolume({
      Name: cacheVolume,
      Labels: { [Labels.managed]: 'true', [Labels.role]: 'npm-cache' },
    });
    await this.volumeReady.catch((err: unknown) => {
      this.volumeReady = undefined;
      throw err;
    });

    await removeEarlierAttempts(docker, labels?.[Labels.deploy]);
    const container = await docker.createContainer({
      Image: builderImage,
      Cmd: NPM_INSTALL,
      User: `${BUILD_UID}:${BUILD_UID}`,
      WorkingDir: '/build',
      Env: [
        'HOME=/home/app',
        'npm_config_cache=/home/app/.npm',
        ...(extraCaFile ? [`NODE_EXTRA_CA_CERTS=${CA_PATH}`] : []),
      ],
      Labels: { ...labels, [Labels.managed]: 'true', [Labels.kind]: 'npm-install' },
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        Mounts: [
          { Type: 'bind', Source: resolve(dir), Target: '/build' },
          { Type: 'volume', Source: cacheVolume, Target: '/home/app/.npm' },
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
}

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
