import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { APP_DEFAULTS, type Log } from '@sidecar/core';
import { TEST_IMAGES, docker, ensureTestImages } from '@sidecar/kubelet/test-support';
import { connectRedis, createStores, SecretBox } from '@sidecar/store';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DockerImageBuilder, LOGIC_IMAGE_REPOSITORY } from '../../builder/image-builder.js';
import type { ImageHousekeeping } from '../../retention.js';
import { PublishingImageBuilder, RegistryImagePublisher } from '../registry.js';
import {
  containerEnv,
  containerOf,
  createSecrets,
  deployDoc,
  ensureRegistryBinary,
  freePort,
  Program,
} from './deploy-manifests.js';
import { kubernetesImageHousekeeping } from './image-housekeeping.js';

/**
 * Image housekeeping on Kubernetes against the registry as deploy/kubernetes/registry.yaml runs it:
 * the real distribution registry of this host (Debian's docker-registry) with the Deployment's
 * environment (htpasswd, deletion on), its garbage collection run as the initContainer runs it,
 * images built by the worker's builder and pushed by its publisher with the worker's credentials,
 * and release records in a real Redis. What the worker wires for `SIDECAR_TARGET=kubernetes`
 * (kubernetesImageHousekeeping) is what deletes.
 */
const d = docker();
const dir = mkdtempSync(join(tmpdir(), 'sidecar-registry-retention-'));
const deployment = deployDoc('Deployment', 'registry');
const { values: secrets } = createSecrets();
const worker = { username: secrets['sidecar-registry/username']!, password: secrets['sidecar-registry/password']! };
const platformId = `rr-${randomBytes(3).toString('hex')}`;
const appName = (n: string) => `${n}-${platformId}`;
const redis = connectRedis(inject('redisUrl'));
const stores = createStores(
  redis,
  `t-${randomUUID().slice(0, 8)}:`,
  new SecretBox([{ id: 'k', key: randomBytes(32) }]),
);
const made: string[] = [];

/** A registry of this test: the yaml's environment, with storage, htpasswd and address moved here. */
class TestRegistry {
  host = '';
  program: Program | undefined;
  readonly config: string;
  readonly data: string;
  constructor(
    readonly name: string,
    private readonly overrides: Record<string, string> = {},
  ) {
    this.config = join(dir, `${name}.yml`);
    this.data = join(dir, `${name}-data`);
  }

  env(container: string): Record<string, string> {
    const env = containerEnv(containerOf(deployment, container), secrets);
    expect(env.REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY).toBe('/var/lib/registry');
    env.REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY = this.data;
    if (env.REGISTRY_AUTH_HTPASSWD_PATH) env.REGISTRY_AUTH_HTPASSWD_PATH = join(dir, 'htpasswd');
    return { ...env, ...this.overrides };
  }

  async start(): Promise<void> {
    this.host ||= `127.0.0.1:${await freePort()}`;
    writeFileSync(
      this.config,
      ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem: {}', 'http:', `  addr: ${this.host}`].join(
        '\n',
      ),
    );
    this.program = new Program('docker-registry', ['serve', this.config], { env: this.env('registry') });
    await this.program.until(async () => (await this.get('/v2/')).status === 200, 'the registry answers');
  }

  get(path: string, accept = 'application/vnd.docker.distribution.manifest.v2+json'): Promise<Response> {
    return this.send('GET', path, { accept });
  }

  send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: Uint8Array<ArrayBuffer> | string,
  ): Promise<Response> {
    const authorization = `Basic ${Buffer.from(`${worker.username}:${worker.password}`).toString('base64')}`;
    return fetch(`http://${this.host}${path}`, { method, headers: { ...headers, authorization }, body });
  }

  /**
   * An OCI index tagged `latest` in `repo` whose one image manifest (a copy of `from`'s) has no tag,
   * as an engine with the containerd image store pushes one. Returns the child's digest.
   */
  async indexOf(repo: string, from: { repo: string; tag: string }): Promise<string> {
    const type = 'application/vnd.docker.distribution.manifest.v2+json';
    const raw = new Uint8Array(await (await this.get(`/v2/${from.repo}/manifests/${from.tag}`, type)).arrayBuffer());
    const manifest = JSON.parse(Buffer.from(raw).toString()) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    for (const b of [manifest.config, ...manifest.layers])
      expect(
        (await this.send('POST', `/v2/${repo}/blobs/uploads/?mount=${b.digest}&from=${from.repo}`, {})).status,
      ).toBe(201);
    const child = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
    expect((await this.send('PUT', `/v2/${repo}/manifests/${child}`, { 'content-type': type }, raw)).status).toBe(201);
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: type, digest: child, size: raw.length, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    };
    const put = await this.send(
      'PUT',
      `/v2/${repo}/manifests/latest`,
      { 'content-type': index.mediaType },
      JSON.stringify(index),
    );
    expect(put.status).toBe(201);
    return child;
  }

  /** The repository's tags; none for a repository the registry no longer knows (404 NAME_UNKNOWN) or emptied. */
  async tags(repo: string): Promise<string[]> {
    const res = await this.get(`/v2/${repo}/tags/list`);
    if (res.status === 404) {
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('NAME_UNKNOWN');
      return [];
    }
    expect(res.status).toBe(200);
    return ((await res.json()) as { tags: string[] | null }).tags ?? [];
  }

  blobFile(digest: string): string {
    const hex = digest.slice('sha256:'.length);
    return join(this.data, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  }

  housekeeping(log: Log, keep = 1): Promise<ImageHousekeeping> {
    return kubernetesImageHousekeeping({
      config: {
        SIDECAR_PLATFORM_ID: platformId,
        SIDECAR_KEEP_RELEASES: keep,
        SIDECAR_REGISTRY_USERNAME: worker.username,
        SIDECAR_REGISTRY_PASSWORD: worker.password,
      },
      docker: d,
      stores,
      log,
      registry: this.host,
    });
  }

  /** Builds a logic image for `app` with the worker's builder and pushes it with the worker's publisher. */
  async build(app: string, deployId: string): Promise<{ image: string; digest: string }> {
    const bundleDir = mkdtempSync(join(dir, 'bundle-'));
    // Content of its own: a layer no other image has, so its blob is this image's alone.
    writeFileSync(join(bundleDir, 'index.js'), `// ${app} ${deployId} ${randomUUID()}\n`);
    const builder = new PublishingImageBuilder(
      new DockerImageBuilder({ docker: d, logicBaseImage: TEST_IMAGES.logic, platformId }),
      new RegistryImagePublisher({ docker: d, registry: this.host, auth: worker }),
    );
    const built = await builder.build({
      app,
      deployId,
      bundleDir,
      manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' },
      signal: new AbortController().signal,
      log: () => undefined,
    });
    made.push(built.image, `${LOGIC_IMAGE_REPOSITORY}/${app}:${deployId}`);
    return built;
  }

  /** The layer and config blobs of a pushed manifest. */
  async blobsOf(repo: string, digest: string): Promise<string[]> {
    const res = await this.get(`/v2/${repo}/manifests/${digest}`);
    expect(res.status).toBe(200);
    const m = (await res.json()) as { config: { digest: string }; layers: { digest: string }[] };
    return [m.config.digest, ...m.layers.map((l) => l.digest)];
  }
}

const lines = (): { log: Log; warnings: string[]; infos: string[] } => {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    log: { info: (_f, m) => infos.push(m), warn: (_f, m) => warnings.push(m), error: (_f, m) => warnings.push(m) },
  };
};

const localExists = (ref: string) =>
  d
    .getImage(ref)
    .inspect()
    .then(
      () => true,
      () => false,
    );

async function createApp(name: string, currentRelease: number | null = null): Promise<string> {
  await stores.apps.create({
    ...APP_DEFAULTS,
    name,
    env: {},
    secrets: {},
    resources: { ...APP_DEFAULTS.resources },
    sidecars: { logs: true, procinfo: false, tls: { enabled: false } },
    currentRelease,
    status: 'running',
    createdAt: new Date().toISOString(),
  });
  return name;
}

/** A release per image, in order (v1 first). */
async function recordReleases(app: string, images: { image: string; digest: string }[]): Promise<void> {
  for (const img of images)
    await stores.releases.create({
      app,
      image: img.image,
      imageDigest: img.digest,
      runtimeImage: 'r',
      env: {},
      manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' },
      createdAt: new Date().toISOString(),
      deployId: 'd',
    });
}

/**
 * The tests that build and push two or three images through the engine: 20 to 62 s each on these two
 * cores with other suites running (load average 10 to 13, measured), past the default 60 s.
 */
const BUILDS_TIMEOUT = 180_000;

const registry = new TestRegistry('main');
const repoOf = (app: string) => `${LOGIC_IMAGE_REPOSITORY}/${app}`;

beforeAll(async () => {
  ensureRegistryBinary();
  await ensureTestImages(d);
  writeFileSync(join(dir, 'htpasswd'), secrets['sidecar-registry-auth/htpasswd']!);
  await registry.start();
}, 120_000);

afterAll(async () => {
  await registry.program?.stop();
  for (const ref of made)
    await d
      .getImage(ref)
      .remove({ force: true })
      .catch(() => undefined);
  await stores.close();
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

describe('the registry of deploy/kubernetes/registry.yaml, with the worker deleting', () => {
  const gone = appName('gone');
  const kept = appName('kept');
  let goneBlobs: string[] = [];
  let keptBlobs: string[] = [];

  it(
    "deleting an app deletes its manifests from the registry (and the engine's images); another app's stay",
    async () => {
      const g1 = await registry.build(gone, 'd1');
      const g2 = await registry.build(gone, 'd2');
      const k1 = await registry.build(kept, 'd1');
      expect(await registry.tags(repoOf(gone))).toEqual(expect.arrayContaining(['d1', 'd2']));
      goneBlobs = [
        ...(await registry.blobsOf(repoOf(gone), g1.digest)),
        ...(await registry.blobsOf(repoOf(gone), g2.digest)),
      ];
      keptBlobs = await registry.blobsOf(repoOf(kept), k1.digest);

      const { log, warnings, infos } = lines();
      await (await registry.housekeeping(log)).removeApp(gone, undefined);

      expect(warnings).toEqual([]);
      expect(infos).toContain(`app ${gone} deleted: removed 2 image(s) from the registry`);
      expect(await registry.tags(repoOf(gone))).toEqual([]);
      expect((await registry.get(`/v2/${repoOf(gone)}/manifests/${g1.digest}`)).status).toBe(404);
      for (const ref of [g1.image, g2.image, `${repoOf(gone)}:d1`]) expect(await localExists(ref)).toBe(false);
      // The other app: its tag, its manifest, its local image.
      expect(await registry.tags(repoOf(kept))).toEqual(['d1']);
      expect((await registry.get(`/v2/${repoOf(kept)}/manifests/d1`)).headers.get('docker-content-digest')).toBe(
        k1.digest,
      );
      expect(await localExists(k1.image)).toBe(true);
    },
    BUILDS_TIMEOUT,
  );

  it(
    'an app of the same name created since keeps its images: only those made before it go',
    async () => {
      const app = appName('again');
      const old = await registry.build(app, 'old');
      const created = await d
        .getImage(old.image)
        .inspect()
        .then((i) => Date.parse(i.Created));
      // The engine lists image times in whole seconds: the new app is made from the next second on.
      const madeBefore = new Date(Math.floor(created / 1000) * 1000 + 1000);
      while (Date.now() < madeBefore.getTime()) await new Promise((r) => setTimeout(r, 50));
      const fresh = await registry.build(app, 'new');

      const { log, warnings } = lines();
      await (await registry.housekeeping(log)).removeApp(app, madeBefore);

      expect(warnings).toEqual([]);
      expect(await registry.tags(repoOf(app))).toEqual(['new']);
      expect((await registry.get(`/v2/${repoOf(app)}/manifests/new`)).headers.get('docker-content-digest')).toBe(
        fresh.digest,
      );
      expect(await localExists(old.image)).toBe(false);
      expect(await localExists(fresh.image)).toBe(true);
    },
    BUILDS_TIMEOUT,
  );

  it(
    "release retention deletes the pruned releases' manifests, never one a kept release shares",
    async () => {
      const app = await createApp(appName('ret'), 4);
      const a = await registry.build(app, 'a');
      const b = await registry.build(app, 'b');
      const c = await registry.build(app, 'c');
      // v1: a, v2: b, v3: a again (a rollback), v4: c. Keep 2: v4 and v3, so a stays although v1 is pruned.
      await recordReleases(app, [a, b, a, c]);
      const { log } = lines();
      const said: string[] = [];
      await (await registry.housekeeping(log, 2)).prune(app, (l) => said.push(l));

      expect(said).toContain(`retention: removed the image of v2 (${b.image})`);
      expect((await registry.tags(repoOf(app))).sort()).toEqual(['a', 'c']);
      expect((await registry.get(`/v2/${repoOf(app)}/manifests/${b.digest}`)).status).toBe(404);
      for (const img of [a, c])
        expect((await registry.get(`/v2/${repoOf(app)}/manifests/${img.digest}`)).status).toBe(200);
      // Both of the engine's tags of b: the pushed one (the release's) and the one it was built with.
      expect(await localExists(b.image)).toBe(false);
      expect(await localExists(`${repoOf(app)}:b`)).toBe(false);
      expect(await localExists(`${repoOf(app)}:a`)).toBe(true);
      const pruned = (await stores.releases.list(app)).filter((r) => r.imagePruned).map((r) => r.version);
      expect(pruned).toEqual([2]);
    },
    BUILDS_TIMEOUT,
  );

  it("the initContainer's garbage collection frees the deleted images' blobs on disk, and the registry serves the rest", async () => {
    const init = containerOf(deployment, 'garbage-collect');
    const [program, ...args] = init.command!;
    expect(program).toBe('registry'); // the registry:2 image's binary; Debian names it docker-registry
    expect(args.at(-1)).toBe('/etc/docker/registry/config.yml');
    const unique = goneBlobs.filter((b) => !keptBlobs.includes(b));
    expect(unique.length).toBeGreaterThanOrEqual(2); // each deleted image's config and bundle layer
    for (const b of [...goneBlobs, ...keptBlobs]) expect(existsSync(registry.blobFile(b)), b).toBe(true);
    // An index whose image has no tag of its own: registry 2.8's `--delete-untagged` would delete that image
    // (the collection must leave every image a tag reaches, directly or through an index).
    const indexRepo = `sidecar-test-index-${platformId}`;
    const child = await registry.indexOf(indexRepo, { repo: repoOf(kept), tag: 'd1' });

    // As in the pod: the registry is not serving while the collection runs.
    await registry.program!.stop();
    await promisify(execFile)('docker-registry', [...args.slice(0, -1), registry.config], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...registry.env('garbage-collect') },
    });
    for (const b of unique) expect(existsSync(registry.blobFile(b)), b).toBe(false);
    for (const b of keptBlobs) expect(existsSync(registry.blobFile(b)), b).toBe(true);

    await registry.start();
    expect(await registry.tags(repoOf(kept))).toEqual(['d1']);
    for (const b of keptBlobs) expect((await registry.get(`/v2/${repoOf(kept)}/blobs/${b}`)).status).toBe(200);
    expect((await registry.get(`/v2/${indexRepo}/manifests/${child}`)).status).toBe(200);
  });
});

describe('a registry that does not allow deletion', () => {
  const off = new TestRegistry('no-delete', { REGISTRY_STORAGE_DELETE_ENABLED: 'false' });
  beforeAll(() => off.start(), 60_000);
  afterAll(() => off.program?.stop());

  it(
    'deleting an app and pruning releases warn once each and throw nothing; the images stay',
    async () => {
      const app = await createApp(appName('nodel'), 3);
      const images = [await off.build(app, 'x'), await off.build(app, 'y'), await off.build(app, 'z')];
      await recordReleases(app, images);
      const refusal = 'the registry does not allow deletion';

      // Pruning (keep 1): two releases past retention, one warning; neither marked pruned, for a later pass.
      const { log } = lines();
      const said: string[] = [];
      await (await off.housekeeping(log, 1)).prune(app, (l) => said.push(l));
      expect(said.filter((l) => l.includes(refusal))).toHaveLength(1);
      expect(said.find((l) => l.includes(refusal))).toContain('REGISTRY_STORAGE_DELETE_ENABLED=true');
      expect((await stores.releases.list(app)).filter((r) => r.imagePruned)).toEqual([]);

      // Deleting the app: one warning, no throw.
      const deleted = lines();
      await expect((await off.housekeeping(deleted.log)).removeApp(app, undefined)).resolves.toBeUndefined();
      expect(deleted.warnings.filter((l) => l.includes(refusal))).toHaveLength(1);
      expect((await off.tags(repoOf(app))).sort()).toEqual(['x', 'y', 'z']);
    },
    BUILDS_TIMEOUT,
  );
});
