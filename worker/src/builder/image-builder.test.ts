import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError, LOADER_PORT, Labels, type BuildInput } from '@sidecar/core';
import { packFolder } from './bundle-tar.js';
import { ensurePlatformImages, readBuildOutput } from '@sidecar/runtime-image';
import { DockerImageBuilder, imageBuildStrategyOf, loaderPortOf, type ImageBuildStrategy } from './image-builder.js';
import { savedImageConfig } from './image-archive.js';

// Real Docker. A throwaway base FROM scratch with a static busybox stands in for logic-base.
const docker = new Docker();
const run = randomBytes(4).toString('hex');
const base = `sidecar-test-build-base:${run}`;
const repository = `sidecar-test-app-${run}`;
let work: string;
const images: string[] = [];

// Every build here skips the build cache: Docker 20.10's cache probe walks the parent's children (for FROM scratch,
// every parentless image: loaded logic images too) and fails the build with "unable to find image" when one is
// removed meanwhile, as other test files do all the time.
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sidecar-image-test-'));
  await mkdir(join(work, 'base'));
  await copyFile('/bin/busybox', join(work, 'base', 'busybox'));
  await chmod(join(work, 'base', 'busybox'), 0o755);
  const context = packFolder({
    dir: join(work, 'base'),
    prefix: 'bin',
    extraFiles: [
      {
        name: 'Dockerfile',
        content: 'FROM scratch\nCOPY bin /bin\nUSER 1000:1000\nENTRYPOINT ["/bin/busybox", "echo", "loader"]\n',
      },
    ],
  });
  await readBuildOutput(
    (await docker.buildImage(context, {
      t: base,
      labels: { [Labels.managed]: 'true' },
      nocache: true,
    })) as AsyncIterable<Uint8Array>,
  );
  images.push(base);

  const bundle = join(work, 'bundle');
  await mkdir(join(bundle, 'lib'), { recursive: true });
  await writeFile(join(bundle, 'index.js'), 'module.exports = require("./lib/secret.js")\n');
  await writeFile(join(bundle, 'lib', 'secret.js'), 'module.exports = "readable by uid 1000"\n', { mode: 0o600 });
  await chmod(join(bundle, 'lib'), 0o700); // as npm or a careless umask might leave it: the image must not
  await symlink('lib/secret.js', join(bundle, 'main.js'));
});

afterAll(async () => {
  for (const image of images.reverse())
    await docker
      .getImage(image)
      .remove({ force: true })
      .catch(() => {});
  await rm(work, { recursive: true, force: true });
});

function input(deployId: string, overrides: Partial<BuildInput> = {}): BuildInput & { lines: string[] } {
  const lines: string[] = [];
  return {
    app: 'demo',
    deployId,
    bundleDir: join(work, 'bundle'),
    manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' },
    signal: new AbortController().signal,
    log: (l) => lines.push(l),
    lines,
    ...overrides,
  };
}

/** Runs a command in the image as uid 1000 and returns its output. */
async function runAs1000(image: string, cmd: string[]): Promise<string> {
  const c = await docker.createContainer({
    Image: image,
    Entrypoint: ['/bin/busybox'],
    Cmd: cmd,
    User: '1000:1000',
    Tty: true,
  });
  try {
    await c.start();
    const { StatusCode } = (await c.wait()) as { StatusCode: number };
    const out = (await c.logs({ stdout: true, stderr: true })).toString();
    if (StatusCode !== 0) throw new Error(`${cmd.join(' ')} exited ${StatusCode}: ${out}`);
    return out.replace(/\r\n/g, '\n');
  } finally {
    await c.remove({ force: true });
  }
}

describe.each<ImageBuildStrategy>(['load', 'dockerfile'])('DockerImageBuilder (%s)', (strategy) => {
  const builder = new DockerImageBuilder({ docker, logicBaseImage: base, repository, strategy });

  it('builds <repository>/<app>:<deployId> with labels and /bundle readable by uid 1000', async () => {
    const deployId = `d-${strategy}`;
    const job = input(deployId);
    const started = performance.now();
    const built = await builder.build(job);
    const ms = Math.round(performance.now() - started);
    images.push(built.image);
    console.log(`image build (${strategy}) of a 3-entry bundle: ${ms} ms`);

    expect(built.image).toBe(`${repository}/demo:${deployId}`);
    const info = await docker.getImage(built.image).inspect();
    expect(built.digest).toBe(info.Id);
    expect(built.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(info.Config.Labels).toMatchObject({
      [Labels.managed]: 'true',
      [Labels.app]: 'demo',
      [Labels.deploy]: deployId,
    });
    expect(info.Config.User).toBe('1000:1000'); // the base's config (user, loader) survives
    expect(info.Config.Entrypoint).toEqual(['/bin/busybox', 'echo', 'loader']);

    expect(await runAs1000(built.image, ['cat', '/bundle/lib/secret.js', '/bundle/main.js'])).toBe(
      'module.exports = "readable by uid 1000"\n'.repeat(2),
    );
    const listing = await runAs1000(built.image, ['ls', '-lnd', '/bundle', '/bundle/lib', '/bundle/lib/secret.js']);
    expect(listing).toMatch(/^drwxr-xr-x\s+\d+ 0\s+0 .* \/bundle$/m);
    expect(listing).toMatch(/^drwxr-xr-x\s+\d+ 0\s+0 .* \/bundle\/lib$/m);
    expect(listing).toMatch(/^-rw-r--r--\s+\d+ 0\s+0 .* \/bundle\/lib\/secret\.js$/m);
    expect(job.lines.at(-1)).toMatch(
      new RegExp(`^built image ${repository}/demo:${deployId} \\(\\w{12}\\) in \\d+ ms$`),
    );
  });

  it('fails clearly when the base image is missing, without retrying', async () => {
    const broken = new DockerImageBuilder({
      docker,
      logicBaseImage: `sidecar-test-missing:${run}`,
      repository,
      strategy,
    });
    const err = (await broken.build(input('d-missing')).catch((e: unknown) => e)) as DomainError;
    expect(err).toBeInstanceOf(DomainError);
    expect(err.code).toBe('build_failed');
    expect(err.retryable).toBe(false);
    expect(err.message).toBe(
      `the logic base image "sidecar-test-missing:${run}" is not on this Docker host; build the platform images first`,
    );
  });

  it('maps an abort to cancelled and leaves no image behind', async () => {
    const ac = new AbortController();
    const job = input(`d-abort-${strategy}`, { signal: ac.signal });
    const pending = builder.build(job);
    ac.abort();
    const err = (await pending.catch((e: unknown) => e)) as DomainError;
    expect(err).toBeInstanceOf(DomainError);
    expect(err.code).toBe('cancelled');
    await expect(docker.getImage(`${repository}/demo:d-abort-${strategy}`).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
  });
});

describe('DockerImageBuilder (load): the image is the base with one layer more', () => {
  it("keeps the base's layers, config and history, and adds the bundle's layer, labels and history line", async () => {
    const built = await new DockerImageBuilder({ docker, logicBaseImage: base, repository }).build(input('d-shape'));
    images.push(built.image);
    const [image, baseImage] = await Promise.all([
      docker.getImage(built.image).inspect(),
      docker.getImage(base).inspect(),
    ]);
    expect(image.RootFS.Layers).toHaveLength(baseImage.RootFS.Layers!.length + 1);
    expect(image.RootFS.Layers!.slice(0, -1)).toEqual(baseImage.RootFS.Layers);
    expect(image.Config.Labels).toEqual({
      ...baseImage.Config.Labels,
      [Labels.managed]: 'true',
      [Labels.app]: 'demo',
      [Labels.deploy]: 'd-shape',
      [Labels.kind]: 'logic-image',
      [Labels.role]: 'logic',
    });
    const history = await docker.getImage(built.image).history();
    const baseHistory = await docker.getImage(base).history();
    expect(history).toHaveLength(baseHistory.length + 1);
    expect(history[0]).toMatchObject({ CreatedBy: 'sidecar-paas: the bundle of deploy d-shape at /bundle' });
  });

  it('reads a base that was retagged to another image again', async () => {
    const moving = `sidecar-test-moving-base:${run}`;
    const builder = new DockerImageBuilder({ docker, logicBaseImage: moving, repository });
    const baseAs = async (user: string) => {
      const ctx = packFolder({
        dir: join(work, 'base'),
        prefix: 'bin',
        extraFiles: [{ name: 'Dockerfile', content: `FROM ${base}\nUSER ${user}\n` }],
      });
      await readBuildOutput((await docker.buildImage(ctx, { t: moving, nocache: true })) as AsyncIterable<Uint8Array>);
    };
    images.push(moving);
    const users: string[] = [];
    for (const [i, user] of ['1000:1000', '1001:1001'].entries()) {
      await baseAs(user);
      const built = await builder.build(input(`d-moving-${i}`));
      images.push(built.image);
      users.push((await docker.getImage(built.image).inspect()).Config.User);
    }
    expect(users).toEqual(['1000:1000', '1001:1001']);
  });
});

describe('imageBuildStrategyOf: load where the engine skips the layers it holds', () => {
  it("classic image store: load; containerd's image store: dockerfile; this engine: load", async () => {
    expect(imageBuildStrategyOf({ DriverStatus: [['Backing Filesystem', 'extfs']] })).toBe('load');
    expect(imageBuildStrategyOf({ DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']] })).toBe(
      'dockerfile',
    );
    expect(imageBuildStrategyOf(await docker.info())).toBe('load');
  });
});

describe("savedImageConfig: the base's config as the engine keeps it", () => {
  it('reads it from the engine', async () => {
    const config = await savedImageConfig(docker, base);
    expect(config.config).toMatchObject({ User: '1000:1000' });
    expect(config.rootfs.diff_ids).toEqual((await docker.getImage(base).inspect()).RootFS.Layers);
  });

  it('a save that stalls fails the read instead of holding it', async () => {
    // A stand-in for an engine whose save stalls (the real one cannot be made to on demand): headers, then nothing.
    const stalled = { getImage: () => ({ get: () => Promise.resolve(new PassThrough()) }) } as unknown as Docker;
    await expect(savedImageConfig(stalled, 'stalled:1', 200)).rejects.toThrow('saving stalled:1 took more than 200 ms');
  });
});

describe("loaderPortOf: whether a logic base's loader listens (the startup probe its releases get)", () => {
  it('the platform logic base: its loader port; a base without the label: none', async () => {
    const { logicBase } = await ensurePlatformImages({ docker });
    expect(await loaderPortOf(docker, logicBase)).toBe(LOADER_PORT);
    expect(await loaderPortOf(docker, base)).toBeUndefined();
  });
});

describe('DockerImageBuilder: bases that cannot work', () => {
  it('refuses a base without a loader command', async () => {
    const bare = `sidecar-test-bare-base:${run}`;
    const ctx = packFolder({
      dir: join(work, 'base'),
      prefix: 'bin',
      extraFiles: [{ name: 'Dockerfile', content: 'FROM scratch\nCOPY bin /bin\n' }],
    });
    await readBuildOutput((await docker.buildImage(ctx, { t: bare, nocache: true })) as AsyncIterable<Uint8Array>);
    images.push(bare);
    const err = (await new DockerImageBuilder({ docker, logicBaseImage: bare, repository })
      .build(input('d-bare'))
      .catch((e: unknown) => e)) as DomainError;
    expect(err.code).toBe('build_failed');
    expect(err.message).toBe(`the logic base image "${bare}" has no ENTRYPOINT or CMD (its loader)`);
  });

  it('an error inside the dockerfile build stream is a failed build even though HTTP succeeded', async () => {
    // A base that exists but whose /bundle is a file: COPY into it fails inside the build.
    await mkdir(join(work, 'file-base'), { recursive: true });
    await writeFile(join(work, 'file-base', 'bundle'), 'not a folder');
    const fileBase = `sidecar-test-file-base:${run}`;
    const ctx = packFolder({
      dir: join(work, 'file-base'),
      prefix: 'x',
      extraFiles: [{ name: 'Dockerfile', content: `FROM ${base}\nCOPY x/bundle /bundle\n` }],
    });
    await readBuildOutput((await docker.buildImage(ctx, { t: fileBase, nocache: true })) as AsyncIterable<Uint8Array>);
    images.push(fileBase);
    const builder = new DockerImageBuilder({ docker, logicBaseImage: fileBase, repository, strategy: 'dockerfile' });
    const err = (await builder.build(input('d-stream-error')).catch((e: unknown) => e)) as DomainError;
    expect(err).toBeInstanceOf(DomainError);
    expect(err.code).toBe('build_failed');
    expect(err.message).toMatch(/^image build failed: .*not a directory/);
  });
});
