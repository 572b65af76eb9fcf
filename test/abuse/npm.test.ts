import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';
import { Labels } from '@sidecar/core';
import Docker from 'dockerode';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawTar, tgzOf } from '../support/bundles.js';
import { type Bystander, expectUnharmed, startBystander } from '../support/bystander.js';
import { createApp, deploy, type DeployResult } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { eventually } from '../support/pods.js';

/*
 * npm (issue 14, findings 4 and 5), through deploys: a bundle cannot configure the platform's npm (its
 * `.npmrc` is removed, said in the log, and not in the image; git dependencies are refused), one app's
 * build mounts only its own npm cache, and an install that grows past SIDECAR_MAX_BUILD_BYTES (4 MiB
 * here) is stopped while npm writes. The registry packages come from the platform's registry (the
 * public one here). A bystander app of another tenant keeps serving meanwhile.
 */
const MAX_BUILD_BYTES = 4 * 1024 * 1024;
const docker = new Docker();
let p: RunningPlatform;
let bystander: Bystander;

beforeAll(async () => {
  p = await startPlatform({ SIDECAR_MAX_BUILD_BYTES: String(MAX_BUILD_BYTES) });
  bystander = await startBystander(p);
}, 240_000);
afterAll(async () => {
  await bystander?.stop();
  await stopPlatform(p);
}, 120_000);

const withMs = (index: string, extra: Record<string, string> = {}) =>
  tgzOf({
    'package.json': JSON.stringify({ name: 'x', main: 'index.js', dependencies: { ms: '2.1.3' } }),
    'index.js': index,
    ...extra,
  });

describe("a bundle configuring the platform's npm", () => {
  it('an .npmrc naming another registry and proxy, with strict-ssl=false: removed, said in the log, not in the image', async () => {
    await createApp(p, 'npmrc');
    // A registry and a proxy nobody answers on: honoured, the install would fail.
    const { deploy: d, log } = await deploy(
      p,
      'npmrc',
      await withMs(
        "const fs = require('fs'), ms = require('ms');\n" +
          "module.exports = (q, s) => s.end(ms('1m') + ' ' + fs.existsSync(__dirname + '/.npmrc'));",
        {
          '.npmrc':
            'registry=http://127.0.0.1:9/\nproxy=http://127.0.0.1:9/\nhttps-proxy=http://127.0.0.1:9/\nstrict-ssl=false\n',
          '.yarnrc': 'registry "http://127.0.0.1:9/"\n',
        },
      ),
    );
    expect(d.status, log).toBe('succeeded');
    expect(log).toContain(
      "ignored the bundle's .npmrc (left out of the build and the image): npm runs with the platform's registry, proxy and TLS settings",
    );
    expect(log).toContain('ignored .yarnrc: dependencies are installed with npm, which does not read it');
    expect(await p.get('npmrc')).toEqual({ status: 200, body: '60000 false' });
  });

  it('a git dependency (npm would clone it and run its prepare script) is refused before npm runs', async () => {
    await createApp(p, 'gitdep');
    const result = await deploy(
      p,
      'gitdep',
      await tgzOf({
        'package.json': JSON.stringify({ name: 'x', main: 'index.js', dependencies: { x: 'github:someone/x' } }),
        'index.js': '',
      }),
    );
    expectFailed(result, 'bundle_invalid', /"x" is a git dependency/);
  });
});

describe("one app's build and another app's npm cache", () => {
  it("each build mounts only its own app's cache; building one leaves the other's untouched", async () => {
    const cacheRoot = join(p.dataDir, 'npm-cache');
    const index = "const ms = require('ms'); module.exports = (q, s) => s.end(String(ms('2s')));";
    const first = await deployWatchingNpm('cache-a', await withMs(index));
    const second = await deployWatchingNpm('cache-b', await withMs(index));
    for (const [app, built] of [
      ['cache-a', first],
      ['cache-b', second],
    ] as const) {
      expect(built.result.deploy.status, built.result.log).toBe('succeeded');
      // Writable binds of the npm container: the build folder and this app's cache, nothing else.
      const writable = built.mounts.filter((m) => m.RW).map((m) => [m.Destination, m.Source]);
      expect(writable).toHaveLength(2);
      expect(writable).toContainEqual(['/home/app/.npm', join(cacheRoot, app)]);
      expect(built.mounts.filter((m) => m.Source.startsWith(cacheRoot))).toHaveLength(1);
      const st = lstatSync(join(cacheRoot, app));
      expect({ mode: st.mode & 0o777, uid: st.uid }).toEqual({ mode: 0o700, uid: 1000 });
      expect(await p.get(app)).toEqual({ status: 200, body: '2000' });
    }
    // The same package in both caches, each downloaded into its own: a second build of A changes nothing of B's.
    const before = treeDigest(join(cacheRoot, 'cache-b'));
    const again = await deployWatchingNpm('cache-a', await withMs(index.replace("'2s'", "'3s'")));
    expect(again.result.deploy.status, again.result.log).toBe('succeeded');
    expect(treeDigest(join(cacheRoot, 'cache-b'))).toBe(before);
  }, 180_000);
});

describe('an install that writes gigabytes', () => {
  it('is stopped while npm writes, past SIDECAR_MAX_BUILD_BYTES, with a clear error; nothing is left', async () => {
    await createApp(p, 'bloat');
    // Half a megabyte of local tarball dependencies that unpack to 80 MiB.
    const tarballs = await bigPackages();
    const dependencies = Object.fromEntries(Object.keys(tarballs).map((f) => [f.replace('.tgz', ''), `file:${f}`]));
    const bundle = gzipSync(
      await rawTar([
        { header: { name: 'package.json' }, content: JSON.stringify({ name: 'x', main: 'index.js', dependencies }) },
        { header: { name: 'index.js' }, content: 'module.exports = (q, s) => s.end("x");' },
        ...Object.entries(tarballs).map(([name, content]) => ({ header: { name }, content })),
      ]),
    );
    const { result } = await deployWatchingNpm('bloat', bundle);
    expectFailed(
      result,
      'bundle_too_large',
      /npm install was stopped: the bundle with its installed dependencies grew past 4 MiB \(the limit, SIDECAR_MAX_BUILD_BYTES\); ship fewer or smaller dependencies/,
    );
    // The build folder goes with the build (removed as the build ends), the npm container with the install.
    await eventually('the build folder removed', async () =>
      readdirSync(join(p.dataDir, 'builds')).some((n) => n.includes(result.deploy.id)) ? undefined : true,
    );
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`${Labels.kind}=npm-install`, `${Labels.deploy}=${result.deploy.id}`] },
    });
    expect(left).toEqual([]);
  }, 180_000);
});

describe('while all of that ran', () => {
  it('the bystander app served every request and the API answered every health check', async () => {
    expectUnharmed(await bystander.stop());
  });
});

function expectFailed(result: DeployResult, code: string, message: RegExp): void {
  expect(result.deploy.status, result.log).toBe('failed');
  expect(result.deploy.error?.code).toBe(code);
  expect(result.deploy.error?.message).toMatch(message);
  expect(result.log).toMatch(message); // the tenant reading the deploy log sees why
}

interface Mount {
  Source: string;
  Destination: string;
  RW: boolean;
}

/** Deploys, and inspects the npm container the build starts (as the engine reports its creation). */
async function deployWatchingNpm(app: string, bundle: Buffer): Promise<{ result: DeployResult; mounts: Mount[] }> {
  const events = (await docker.getEvents({
    filters: { type: ['container'], event: ['create'], label: [`${Labels.kind}=npm-install`, `${Labels.app}=${app}`] },
  })) as NodeJS.ReadableStream & { destroy(): void };
  const created = new Promise<Mount[]>((resolve, reject) => {
    events.once('data', (chunk: Buffer) => {
      const { id } = JSON.parse(chunk.toString()) as { id: string };
      docker
        .getContainer(id)
        .inspect()
        .then((c) => resolve(c.Mounts as Mount[]), reject);
    });
  });
  try {
    if (!(await p.api$(`/api/v1/apps/${app}`)).ok) await createApp(p, app);
    const result = await deploy(p, app, bundle);
    return { result, mounts: await created };
  } finally {
    events.destroy();
  }
}

/** Every path under `dir` with its size and modification time: changes if anything was written there. */
function treeDigest(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const st = lstatSync(path);
      hash.update(`${path}\0${st.size}\0${st.mtimeMs}\n`);
      if (st.isDirectory()) walk(path);
    }
  };
  if (existsSync(dir)) walk(dir);
  return hash.digest('hex');
}

/**
 * Local npm package tarballs (`file:` dependencies) unpacking to 80 MiB in all: 10 packages of 1000
 * files of 8 KiB, zeros but for one byte in 4 KiB. npm 11 reads every tarball whole before it writes
 * any (one of 1 GiB ends in the install's memory limit instead), then writes the files for seconds:
 * the writing the size watch stops, a second or so after it passed the limit.
 */
async function bigPackages(): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  const file = Buffer.alloc(8 * 1024);
  for (let k = 0; k < 10; k++) {
    const pack = tar.pack();
    const chunks: Buffer[] = [];
    const gzip = createGzip({ level: 1 });
    const done = new Promise<void>((resolve, reject) => {
      pack.pipe(gzip).on('data', (c: Buffer) => void chunks.push(c));
      gzip.once('end', resolve).once('error', reject);
    });
    pack.entry({ name: 'package/package.json' }, JSON.stringify({ name: `big-${k}`, version: '1.0.0' }));
    for (let f = 0; f < 1000; f++) {
      // Zeros alone compress 1030:1, past the ratio at which npm's tar refuses a tarball.
      for (let o = 0; o < file.length; o += 4096) file[o] = 1 + ((k * 11 + f * 7 + o / 4096) % 255);
      pack.entry({ name: `package/blob-${f}.bin` }, file);
    }
    pack.finalize();
    await done;
    out[`big-${k}.tgz`] = Buffer.concat(chunks);
  }
  return out;
}
