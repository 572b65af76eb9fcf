import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { DomainError, Labels } from '@sidecar/core';
import { ensurePlatformImages } from '@sidecar/runtime-image';
import { NpmDependencyInstaller } from './dependencies.js';

// Real Docker, the real builder image and the real npm registry (reached through the host's CA bundle).
const docker = new Docker();
const EXTRA_CA = '/etc/ssl/certs/ca-certificates.crt';
let installer: NpmDependencyInstaller;
let builderImage: string;
let cacheRoot: string;
let dir: string;

beforeAll(async () => {
  builderImage = (await ensurePlatformImages({ docker })).builderNode;
  cacheRoot = await mkdtemp(join(tmpdir(), 'sidecar-npm-caches-'));
  installer = new NpmDependencyInstaller({ docker, builderImage, extraCaFile: EXTRA_CA, cacheRoot });
});
afterAll(async () => {
  await rm(cacheRoot, { recursive: true, force: true });
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sidecar-npm-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function install(
  dependencies: Record<string, string>,
  opts: { signal?: AbortSignal; app?: string; using?: NpmDependencyInstaller; labels?: Record<string, string> } = {},
) {
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'app', dependencies }));
  const lines: string[] = [];
  const started = performance.now();
  const signal = opts.signal ?? new AbortController().signal;
  await (opts.using ?? installer).install({
    dir,
    app: opts.app ?? 'demo',
    signal,
    log: (l) => lines.push(l),
    ...(opts.labels ? { labels: opts.labels } : {}),
  });
  return { lines, ms: Math.round(performance.now() - started) };
}

describe('NpmDependencyInstaller', () => {
  it('installs a small package from the registry, streaming npm output', async () => {
    const { lines } = await install({ ms: '2.1.3' });
    expect(JSON.parse(await readFile(join(dir, 'node_modules/ms/package.json'), 'utf8'))).toMatchObject({
      name: 'ms',
      version: '2.1.3',
    });
    expect(lines.join('\n')).toMatch(/added 1 package/);
  });

  it('installs express, cold then warm cache', async () => {
    const cold = await install({ express: '^4.21.0' });
    await rm(join(dir, 'node_modules'), { recursive: true });
    await rm(join(dir, 'package-lock.json'));
    const warm = await install({ express: '^4.21.0' });
    console.log(`npm install express: cold cache ${cold.ms} ms, warm cache ${warm.ms} ms`);
    expect(JSON.parse(await readFile(join(dir, 'node_modules/express/package.json'), 'utf8'))).toMatchObject({
      name: 'express',
    });
  });

  it("fails with build_failed and npm's own message for a package that does not exist", async () => {
    const name = `sidecar-paas-no-such-package-${randomBytes(6).toString('hex')}`;
    const err = (await install({ [name]: '1.0.0' }).catch((e: unknown) => e)) as DomainError;
    expect(err).toBeInstanceOf(DomainError);
    expect(err.code).toBe('build_failed');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/^npm install failed \(exit 1\): /);
    expect(err.message).toMatch(/E404/);
    expect(err.message).toContain(name);
  });

  it('is cancelled by the abort signal, and removes its container', async () => {
    const ac = new AbortController();
    // Abort the moment this test's npm container starts (Docker's event stream: no guessing with sleeps;
    // its own deploy label, so another file's build running at the same time is never the one aborted).
    const deploy = `d_cancel${randomBytes(4).toString('hex')}`;
    const events = await docker.getEvents({
      filters: {
        type: ['container'],
        event: ['start'],
        label: [`${Labels.kind}=npm-install`, `${Labels.deploy}=${deploy}`],
      },
    });
    let started: string | undefined;
    events.on('data', (chunk: Buffer) => {
      started ??= (JSON.parse(chunk.toString().split('\n')[0]!) as { id: string }).id;
      ac.abort();
    });
    try {
      const err = (await install(
        { express: '^4.21.0' },
        { signal: ac.signal, labels: { [Labels.deploy]: deploy } },
      ).catch((e: unknown) => e)) as DomainError;
      expect(err).toBeInstanceOf(DomainError);
      expect(err.code).toBe('cancelled');
    } finally {
      (events as unknown as { destroy(): void }).destroy();
    }
    expect(started).toBeDefined();
    await expect(docker.getContainer(started!).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it("uses the platform's registry and TLS settings even with a .npmrc in the folder", async () => {
    // prepareBundle removes a bundle's .npmrc; the command line must win even if one were left.
    await writeFile(join(dir, '.npmrc'), 'registry=http://127.0.0.1:9/\nstrict-ssl=false\ngit=/bin/sh\n');
    const { lines } = await install({ ms: '2.1.3' });
    expect(lines.join('\n')).toMatch(/added 1 package/);
  });

  it('never clones a git dependency, even one prepareBundle did not see', async () => {
    const err = (await install({ ms: 'git+https://github.com/vercel/ms.git' }).catch((e: unknown) => e)) as DomainError;
    expect(err).toBeInstanceOf(DomainError);
    expect(err.code).toBe('build_failed');
    expect(err.message).toMatch(/git dependencies are not installed here/);
  });

  it('keeps one npm cache per app, and empties one that grew past its limit', async () => {
    await install({ ms: '2.1.3' }, { app: 'one' });
    await rm(join(dir, 'node_modules'), { recursive: true });
    await install({ ms: '2.1.3' }, { app: 'two' });
    expect((await readdir(cacheRoot)).sort()).toEqual(expect.arrayContaining(['one', 'two']));
    expect(await readdir(join(cacheRoot, 'one'))).toContain('_cacache');
    const small = new NpmDependencyInstaller({
      docker,
      builderImage,
      extraCaFile: EXTRA_CA,
      cacheRoot,
      maxCacheBytes: 1024,
    });
    await rm(join(dir, 'node_modules'), { recursive: true });
    const { lines } = await install({ ms: '2.1.3' }, { app: 'one', using: small });
    expect(lines).toContain("the app's npm cache was larger than 1 KiB: starting with an empty one");
  });
});
