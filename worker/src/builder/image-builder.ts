import type Docker from 'dockerode';
import { DomainError, ErrorCode, Labels, type BuildInput, type BuiltImage, type ImageBuilder } from '@sidecar/core';
import { packFolder } from './bundle-tar.js';
import { ArchiveError, imageArchive, layerDigest, savedImageConfig, type ImageConfig } from './image-archive.js';
import { readBuildOutput } from '@sidecar/runtime-image';
import { PLATFORM_LABEL } from '@sidecar/kubelet';

/**
 * How the image is made. Both give one layer holding /bundle on top of logic-base.
 * - `load` (default): `docker load` of an archive holding the base's config with the bundle's
 *   layer added (image-archive.ts). Measured ~0.12 s for a small bundle; the container-less
 *   successor of create + put-archive + commit (~0.26 s).
 * - `dockerfile`: classic `docker build` of `FROM base` + `COPY bundle /bundle`.
 *   Measured ~0.52 s: the classic builder adds context bookkeeping and an intermediate
 *   container per step. Kept for engines whose load needs every layer in the archive
 *   (an image store that does not skip the layers it holds).
 */
export type ImageBuildStrategy = 'load' | 'dockerfile';

/**
 * `load` where the engine keeps images in its classic store (which skips the layers it holds); an engine
 * on the containerd image store (`driver-type` io.containerd.snapshotter.v1 in `docker info`) wants every
 * layer a loaded archive names, so there `dockerfile`.
 */
export function imageBuildStrategyOf(info: { DriverStatus?: [string, string][] | null }): ImageBuildStrategy {
  const containerdStore = (info.DriverStatus ?? []).some(
    ([key, value]) => key === 'driver-type' && value.startsWith('io.containerd.snapshotter'),
  );
  return containerdStore ? 'dockerfile' : 'load';
}

export interface DockerImageBuilderOptions {
  docker: Docker;
  /** The logic-base image ref (busybox + loader, uid 1000), e.g. from ensurePlatformImages. */
  logicBaseImage: string;
  /** Image repository prefix: images are `<repository>/<app>:<deployId>`. */
  repository?: string;
  strategy?: ImageBuildStrategy;
  /** Labels each image with the platform that built it (SIDECAR_PLATFORM_ID), so a deleted app's go with it (retention.ts). */
  platformId?: string;
}

/**
 * The port the loader of a logic-base image listens on once the logic is in place (its `loader-port` label),
 * or undefined for a base whose loader does not listen: releases built from it are probed by the marker file.
 */
export async function loaderPortOf(docker: Docker, logicBaseImage: string): Promise<number | undefined> {
  const label = (await docker.getImage(logicBaseImage).inspect()).Config.Labels?.[Labels.loaderPort];
  const port = Number(label);
  return label !== undefined && Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

/** Where logic images are tagged by default: `sidecar-app/<app>:<deployId>` (and so in the registry: retention looks there). */
export const LOGIC_IMAGE_REPOSITORY = 'sidecar-app';

const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Builds the logic sidecar image: logic-base with the prepared bundle at /bundle. */
export class DockerImageBuilder implements ImageBuilder {
  private readonly docker: Docker;
  private readonly base: string;
  private readonly repository: string;
  private readonly strategy: ImageBuildStrategy;
  private readonly platformId: string | undefined;
  /** The base's config, read once per image id (a retagged base is read again). */
  private baseConfig: { id: string; config: Promise<ImageConfig> } | undefined;

  constructor(opts: DockerImageBuilderOptions) {
    this.docker = opts.docker;
    this.base = opts.logicBaseImage;
    this.repository = opts.repository ?? LOGIC_IMAGE_REPOSITORY;
    this.strategy = opts.strategy ?? 'load';
    this.platformId = opts.platformId;
  }

  plannedImage(app: string, deployId: string): string {
    if (!TAG_RE.test(deployId)) throw new Error(`deploy id "${deployId}" cannot be an image tag`);
    return `${this.repository}/${app}:${deployId}`;
  }

  async build(input: BuildInput): Promise<BuiltImage> {
    const { app, deployId, signal, log } = input;
    const tag = this.plannedImage(app, deployId);
    const labels = {
      [Labels.managed]: 'true',
      [Labels.app]: app,
      [Labels.deploy]: deployId,
      [Labels.kind]: 'logic-image',
      [Labels.role]: 'logic',
      ...(this.platformId !== undefined ? { [PLATFORM_LABEL]: this.platformId } : {}),
    };
    const started = Date.now();
    try {
      signal.throwIfAborted();
      const baseId = await this.checkBase();
      log(`building image ${tag} from ${this.base}`);
      if (this.strategy === 'load') await this.load({ tag, labels, input }, baseId);
      else await this.dockerfile({ tag, labels, input });
      signal.throwIfAborted();
      const { Id } = await this.docker.getImage(tag).inspect();
      log(`built image ${tag} (${Id.slice(7, 19)}) in ${Date.now() - started} ms`);
      return { image: tag, digest: Id };
    } catch (err) {
      if (!signal.aborted) throw err;
      await this.docker
        .getImage(tag)
        .remove({ force: true })
        .catch(() => {}); // may not exist yet
      throw new DomainError(ErrorCode.cancelled, 'image build cancelled', { cause: err });
    }
  }

  /** A missing or command-less base is a platform setup problem no retry fixes (and nothing may be pulled here). */
  private async checkBase(): Promise<string> {
    let config: { Entrypoint?: unknown; Cmd?: unknown };
    let id: string;
    try {
      ({ Config: config, Id: id } = await this.docker.getImage(this.base).inspect());
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      throw new DomainError(
        ErrorCode.buildFailed,
        `the logic base image "${this.base}" is not on this Docker host; build the platform images first`,
      );
    }
    const hasCommand = (v: unknown) => Array.isArray(v) && v.length > 0;
    if (!hasCommand(config.Entrypoint) && !hasCommand(config.Cmd)) {
      // Its loader is what puts the bundle in place; without one the image could never start.
      throw new DomainError(
        ErrorCode.buildFailed,
        `the logic base image "${this.base}" has no ENTRYPOINT or CMD (its loader)`,
      );
    }
    return id;
  }

  private async load({ tag, labels, input }: Step, baseId: string): Promise<void> {
    const bundle = () => packFolder({ dir: input.bundleDir, prefix: 'bundle' });
    // The engine's request reads the archive through a pipe, which does not end it when the archive
    // fails: a failing archive aborts the request, and the build fails with the archive's reason
    // (an archive ended by the request's own failure leaves the engine's reason).
    const archiveFailed = new AbortController();
    const loaded = (async () => {
      const archive = imageArchive({
        base: await untilAborted(this.baseConfigOf(baseId), input.signal),
        layer: bundle,
        digest: await layerDigest(bundle()),
        tag,
        labels,
        createdBy: `sidecar-paas: the bundle of deploy ${input.deployId} at /bundle`,
      });
      archive.once('error', (err) => archiveFailed.abort(err));
      const abortSignal = AbortSignal.any([input.signal, archiveFailed.signal]);
      return this.docker.loadImage(archive, { quiet: true, abortSignal });
    })();
    try {
      // Its one line ("Loaded image: …") says what the next line of the deploy log says better.
      await this.engineOutput(loaded, input, { logLines: false });
    } catch (err) {
      const reason: unknown = archiveFailed.signal.reason;
      if (input.signal.aborted || !(reason instanceof ArchiveError)) throw err;
      throw new DomainError(ErrorCode.buildFailed, `image build failed: ${reason.message}`, {
        retryable: true,
        cause: reason,
      });
    }
  }

  private async baseConfigOf(id: string): Promise<ImageConfig> {
    if (this.baseConfig?.id !== id) this.baseConfig = { id, config: savedImageConfig(this.docker, id) };
    const reading = this.baseConfig;
    try {
      return await reading.config;
    } catch (err) {
      if (this.baseConfig === reading) this.baseConfig = undefined; // the next build reads it again
      throw err;
    }
  }

  private async dockerfile({ tag, labels, input }: Step): Promise<void> {
    const context = packFolder({
      dir: input.bundleDir,
      prefix: 'bundle',
      extraFiles: [{ name: 'Dockerfile', content: `FROM ${this.base}\nCOPY bundle /bundle\n` }],
    });
    // Labels as a build parameter, not LABEL lines: no extra build step. No build cache: Docker 20.10's cache probe
    // walks the base's children and fails the build ("unable to find image") when retention removes one meanwhile.
    const output = this.docker.buildImage(context, {
      t: tag,
      labels,
      nocache: true,
      rm: true,
      forcerm: true,
      abortSignal: input.signal,
    });
    await this.engineOutput(output, input, { logLines: true });
  }

  /** The engine's progress lines go to the deploy log; a failure on the way fails the build (a retry may help). */
  private async engineOutput(
    output: Promise<NodeJS.ReadableStream>,
    input: BuildInput,
    { logLines }: { logLines: boolean },
  ): Promise<void> {
    try {
      await readBuildOutput((await output) as AsyncIterable<Uint8Array>, (m) => {
        if (logLines && m.stream?.trim()) input.log(m.stream.trimEnd());
      });
    } catch (err) {
      if (input.signal.aborted) throw err;
      throw new DomainError(ErrorCode.buildFailed, `image build failed: ${(err as Error).message}`, {
        retryable: true,
        cause: err,
      });
    }
  }
}

/** A shared read that one build's cancel must not end for the others: that build stops waiting. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

interface Step {
  tag: string;
  labels: Record<string, string>;
  input: BuildInput;
}
