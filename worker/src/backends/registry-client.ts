import { DomainError, ErrorCode } from '@sidecar/core';

/** Every manifest type the engine may push; asked for in full so the registry never converts (a converted manifest has another digest). */
export const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
] as const;

const INDEX_TYPES: readonly string[] = [MANIFEST_TYPES[2], MANIFEST_TYPES[3]];

/** What the deletion of a manifest came to: gone now, or gone before (404). */
export const ManifestDeletion = { deleted: 'deleted', absent: 'absent' } as const;
export type ManifestDeletion = (typeof ManifestDeletion)[keyof typeof ManifestDeletion];

/** The part of an image's config blob retention decides on. */
export interface ImageConfigFacts {
  /** Milliseconds since the epoch (the config's `created`); NaN when the image says none. */
  created: number;
  labels: Record<string, string>;
}

/**
 * The registry refuses deletion (405 UNSUPPORTED): the distribution registry's default. Not retryable:
 * nothing changes until its operator sets REGISTRY_STORAGE_DELETE_ENABLED=true.
 */
export class RegistryDeletionRefused extends DomainError {
  constructor(repo: string) {
    super(
      ErrorCode.internal,
      `the registry does not allow deletion (${repo}): set REGISTRY_STORAGE_DELETE_ENABLED=true on the registry`,
    );
  }
}

interface Manifest {
  mediaType?: string;
  config?: { digest?: string };
  manifests?: { digest: string; mediaType?: string; platform?: { os?: string; architecture?: string } }[];
}

/**
 * The registry's HTTP API v2, only what retention calls: a repository's tags, a tag's digest, an
 * image's config, deleting a manifest. Basic authentication with the worker's credentials (the
 * htpasswd registry of deploy/kubernetes answers 401 without); every request is bounded by
 * `timeoutMs`. `baseUrl` carries the scheme (registrySchemeOf decides it as the engine does).
 */
export class RegistryClient {
  private readonly authorization: string | undefined;
  private readonly timeoutMs: number;

  constructor(
    private readonly opts: {
      /** `http(s)://host[:port]` */ baseUrl: string;
      auth?: { username: string; password: string } | undefined;
      timeoutMs?: number;
      /** Largest page asked of `tags/list` (the registry may answer fewer and a Link to the next). */
      pageSize?: number;
    },
  ) {
    this.authorization = opts.auth
      ? `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`
      : undefined;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Every tag of `repo`, following the `Link: <...>; rel="next"` pages; none for an unknown repository (404). */
  async tags(repo: string): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repo}/tags/list?n=${this.opts.pageSize ?? 1000}`;
    const seen = new Set<string>();
    while (path !== undefined) {
      // A registry answering the same page again would loop for ever.
      if (seen.has(path)) throw this.failure(`GET ${path}`, 'the registry sent the same page twice');
      seen.add(path);
      const res = await this.request('GET', path);
      if (res.status === 404) return tags;
      await this.expect(res, [200], `GET ${path}`);
      const body = (await res.json()) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      path = nextPage(res.headers.get('link'));
    }
    return tags;
  }

  /** The manifest digest a tag names (`Docker-Content-Digest`), or undefined once it is gone. */
  async digestOf(repo: string, tag: string): Promise<string | undefined> {
    const res = await this.request('HEAD', `/v2/${repo}/manifests/${tag}`, { accept: MANIFEST_TYPES.join(', ') });
    if (res.status === 404) return undefined;
    await this.expect(res, [200], `HEAD ${repo}:${tag}`);
    const digest = res.headers.get('docker-content-digest');
    if (!digest || !/^sha256:[a-f0-9]{64}$/.test(digest))
      throw this.failure(`HEAD ${repo}:${tag}`, `no usable Docker-Content-Digest (${digest ?? 'none'})`);
    return digest;
  }

  /**
   * The config of the image a manifest describes: its `created` and labels. For an index (an engine
   * with the containerd image store may push one, with attestations beside the image), the first
   * entry that names a real platform. Undefined once the manifest is gone.
   */
  async imageConfig(repo: string, digest: string): Promise<ImageConfigFacts | undefined> {
    let manifest = await this.manifest(repo, digest);
    if (manifest && INDEX_TYPES.includes(manifest.mediaType ?? '')) {
      const image = manifest.manifests?.find((m) => m.platform?.os !== 'unknown');
      manifest = image ? await this.manifest(repo, image.digest) : undefined;
    }
    const config = manifest?.config?.digest;
    if (!config) return undefined;
    const res = await this.request('GET', `/v2/${repo}/blobs/${config}`);
    if (res.status === 404) return undefined;
    await this.expect(res, [200], `GET ${repo} config ${config}`);
    const body = (await res.json()) as { created?: string; config?: { Labels?: Record<string, string> | null } };
    return { created: Date.parse(body.created ?? ''), labels: body.config?.Labels ?? {} };
  }

  /** Deletes a manifest (and so every tag naming it). 404: gone already. 405: RegistryDeletionRefused. */
  async deleteManifest(repo: string, digest: string): Promise<ManifestDeletion> {
    const res = await this.request('DELETE', `/v2/${repo}/manifests/${digest}`);
    if (res.status === 404) return ManifestDeletion.absent;
    if (res.status === 405) {
      await res.body?.cancel();
      throw new RegistryDeletionRefused(repo);
    }
    await this.expect(res, [202, 200], `DELETE ${repo}@${digest}`);
    return ManifestDeletion.deleted;
  }

  private async manifest(repo: string, digest: string): Promise<Manifest | undefined> {
    const res = await this.request('GET', `/v2/${repo}/manifests/${digest}`, { accept: MANIFEST_TYPES.join(', ') });
    if (res.status === 404) return undefined;
    await this.expect(res, [200], `GET ${repo}@${digest}`);
    const body = (await res.json()) as Manifest;
    return { ...body, mediaType: body.mediaType ?? res.headers.get('content-type') ?? undefined };
  }

  private async request(method: string, path: string, headers: Record<string, string> = {}): Promise<Response> {
    try {
      return await fetch(new URL(path, this.opts.baseUrl), {
        method,
        headers: { ...headers, ...(this.authorization ? { authorization: this.authorization } : {}) },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (cause) {
      throw this.failure(`${method} ${path}`, (cause as Error).message, cause);
    }
  }

  private async expect(res: Response, ok: number[], what: string): Promise<void> {
    if (ok.includes(res.status)) return;
    const text = await res.text().catch(() => '');
    throw this.failure(what, `HTTP ${res.status} ${text.slice(0, 300).trim()}`);
  }

  private failure(what: string, why: string, cause?: unknown): DomainError {
    return new DomainError(ErrorCode.internal, `registry ${this.opts.baseUrl}: ${what}: ${why}`, {
      retryable: true,
      ...(cause !== undefined ? { cause } : {}),
    });
  }
}

/** The path of the `rel="next"` entry of a Link header (RFC 8288), or undefined on the last page. */
export function nextPage(link: string | null): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(^|;)\s*rel="?next"?\s*(;|$)/.test(m[2]!)) {
      const url = new URL(m[1]!, 'http://registry.invalid');
      return `${url.pathname}${url.search}`;
    }
  }
  return undefined;
}
