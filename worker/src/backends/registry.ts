import type Docker from 'dockerode';
import {
  DomainError,
  ErrorCode,
  type BuildInput,
  type BuiltImage,
  type ImageBuilder,
  type LogSink,
} from '@sidecar/core';
import { JsonObjectSplitter } from '@sidecar/runtime-image';

/** The worker's registry credentials from its config (both or neither: the config schema checks). */
export function registryAuthOf(config: {
  SIDECAR_REGISTRY_USERNAME?: string | undefined;
  SIDECAR_REGISTRY_PASSWORD?: string | undefined;
}): { username: string; password: string } | undefined {
  const { SIDECAR_REGISTRY_USERNAME: username, SIDECAR_REGISTRY_PASSWORD: password } = config;
  return username && password ? { username, password } : undefined;
}

/** A pushed image: its tag under the registry and the registry's manifest digest. */
export interface PublishedImage {
  tag: string;
  digest: string;
  /** `<registry>/<repo>@<digest>` */ ref: string;
}

/** Puts a local image where a cluster can pull it. */
export interface ImagePublisher {
  publish(localRef: string, opts?: { signal?: AbortSignal; log?: LogSink }): Promise<PublishedImage>;
}

interface PushMessage {
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { Tag?: string; Digest?: string; Size?: number };
}

/**
 * Pushes images to `SIDECAR_REGISTRY` with the Docker engine: tag `<registry>/<repo>:<tag>`,
 * push, and take the manifest digest from the push stream's `aux` message. Docker treats
 * registries on 127.0.0.0/8 as insecure (plain HTTP), others need TLS or daemon config.
 * As with builds, a failed push shows only inside the stream (the HTTP call succeeds).
 */
export class RegistryImagePublisher implements ImagePublisher {
  constructor(
    private readonly opts: {
      docker: Docker;
      registry: string;
      /** Credentials for an authenticated registry (htpasswd on Kubernetes); the engine sends them, and keeps none. */
      auth?: { username: string; password: string } | undefined;
    },
  ) {}

  /** The `X-Registry-Auth` of every registry call: the credentials for this registry, or none. */
  private get authconfig(): object {
    const { auth, registry } = this.opts;
    return auth ? { username: auth.username, password: auth.password, serveraddress: registry } : {};
  }

  /**
   * Pushes only when the registry's copy is not the local image. The platform sidecars' images
   * (`SIDECAR_TLS_TERMINATOR_IMAGE`, ...) may be overridden with mutable tags, so a tag in the
   * registry proves nothing: its digest must be one the engine knows for the local image (its
   * RepoDigests, recorded when this engine pushed or pulled it). Then nothing is pushed, so an
   * unchanged image is pushed once however often the worker starts. The engine asks the registry
   * (`GET /distribution/<ref>/json`), so a registry that lost the image gets it pushed again. With
   * no local image at all there is nothing to push, and the registry's copy is used.
   */
  async publishIfAbsent(localRef: string, o: { signal?: AbortSignal; log?: LogSink } = {}): Promise<PublishedImage> {
    const { repo, tag } = splitRef(stripRegistry(localRef, this.opts.registry));
    const target = `${this.opts.registry}/${repo}`;
    const there = await this.opts.docker
      .getImage(`${target}:${tag}`)
      .distribution({ authconfig: this.authconfig })
      .then(
        (info) => info.Descriptor.digest,
        () => undefined,
      );
    if (there) {
      const local = await this.opts.docker
        .getImage(localRef)
        .inspect()
        .then(
          (i) => i.RepoDigests ?? [],
          () => undefined,
        );
      if (local === undefined || local.includes(`${target}@${there}`)) {
        o.log?.(`${target}:${tag} is in the registry already (${there})`);
        return { tag: `${target}:${tag}`, digest: there, ref: `${target}@${there}` };
      }
      o.log?.(`${target}:${tag} in the registry (${there}) is not the local ${localRef}: pushing it again`);
    }
    return this.publish(localRef, o);
  }

  async publish(localRef: string, o: { signal?: AbortSignal; log?: LogSink } = {}): Promise<PublishedImage> {
    const { repo, tag } = splitRef(stripRegistry(localRef, this.opts.registry));
    const target = `${this.opts.registry}/${repo}`;
    const image = this.opts.docker.getImage(localRef);
    await image.tag({ repo: target, tag });
    o.log?.(`pushing ${target}:${tag}`);
    const stream = (await this.opts.docker.getImage(`${target}:${tag}`).push({
      tag,
      authconfig: this.authconfig,
      ...(o.signal ? { abortSignal: o.signal } : {}),
    })) as unknown as AsyncIterable<Uint8Array>;
    const splitter = new JsonObjectSplitter();
    let digest: string | undefined;
    let failure: string | undefined;
    try {
      for await (const chunk of stream) {
        for (const text of splitter.push(chunk)) {
          const m = JSON.parse(text) as PushMessage;
          failure ??= m.errorDetail?.message ?? m.error;
          if (m.aux?.Digest) digest = m.aux.Digest;
        }
      }
    } catch (cause) {
      if (o.signal?.aborted) throw new DomainError(ErrorCode.cancelled, 'image push cancelled', { cause });
      throw new DomainError(ErrorCode.buildFailed, `pushing ${target}:${tag} failed: ${(cause as Error).message}`, {
        retryable: true,
        cause,
      });
    }
    if (failure !== undefined)
      throw new DomainError(ErrorCode.buildFailed, `pushing ${target}:${tag} failed: ${failure}`, { retryable: true });
    if (!digest)
      throw new DomainError(ErrorCode.buildFailed, `pushing ${target}:${tag}: the engine reported no digest`, {
        retryable: true,
      });
    o.log?.(`pushed ${target}@${digest}`);
    return { tag: `${target}:${tag}`, digest, ref: `${target}@${digest}` };
  }
}

/**
 * The build pipeline's ImageBuilder, publishing what it built: the release records the
 * registry tag and the registry digest, so manifests reference `<registry>/<repo>@<digest>`
 * (core `imageRefFor`). The Docker target can still run the image: the tag is local too.
 */
export class PublishingImageBuilder implements ImageBuilder {
  constructor(
    private readonly inner: ImageBuilder,
    private readonly publisher: ImagePublisher,
  ) {}

  async build(input: BuildInput): Promise<BuiltImage> {
    const built = await this.inner.build(input);
    const published = await this.publisher.publish(built.image, { signal: input.signal, log: input.log });
    return { image: published.tag, digest: published.digest };
  }
}

function stripRegistry(ref: string, registry: string): string {
  return ref.startsWith(`${registry}/`) ? ref.slice(registry.length + 1) : ref;
}

/** `sidecar-app/hello:d_1` → repo + tag (`latest` when none); a digest reference cannot be re-tagged. */
export function splitRef(ref: string): { repo: string; tag: string } {
  if (ref.includes('@')) throw new Error(`cannot publish ${ref}: push a tagged image, not a digest reference`);
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repo: ref, tag: 'latest' };
}
