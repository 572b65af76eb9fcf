import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Labels } from '@sidecar/core';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paxRecord, TAR_END, tarEntry } from '../support/raw-tar.js';
import { rawTar, tgzOf } from '../support/bundles.js';
import { createApp, deploy, type DeployResult } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { type Bystander, expectUnharmed, startBystander } from '../support/bystander.js';

/*
 * Hostile bundles, each sent as a tenant would (POST /api/v1/apps/:app/deploys), each refused with the
 * error docs/security.md documents, shown in the deploy log — while another tenant's app keeps
 * serving and the API keeps answering (the bystander). Unit-level timings of the same inputs
 * (event-loop delay) are in worker/src/builder/hostile-bundles.test.ts; what a bundle can make npm do
 * is in npm.test.ts.
 */
let p: RunningPlatform;
let bystander: Bystander;
const MAX_ENTRIES = 2000;

beforeAll(async () => {
  p = await startPlatform({ SIDECAR_MAX_ENTRIES: String(MAX_ENTRIES) });
  bystander = await startBystander(p);
  await createApp(p, 'attacker');
}, 240_000);
afterAll(async () => {
  await bystander?.stop();
  await stopPlatform(p);
}, 120_000);

async function expectRefused(bundle: Buffer, code: string, message: RegExp): Promise<DeployResult> {
  const result = await deploy(p, 'attacker', bundle);
  expect(result.deploy.status, result.log).toBe('failed');
  expect(result.deploy.error?.code).toBe(code);
  expect(result.deploy.error?.message).toMatch(message);
  expect(result.log).toMatch(message); // the tenant reading the deploy log sees why
  return result;
}

const index = { header: { name: 'index.js' }, content: 'module.exports = (q, s) => s.end("x")' };

describe('bundles made to stall or exhaust the shared worker are refused', () => {
  it('an entry name past 4 KiB (the 32 KB name that once blocked the worker for a second)', async () => {
    const name = `${'a/'.repeat(4000)}x.js`;
    await expectRefused(
      gzipSync(await rawTar([index, { header: { name }, content: 'x' }])),
      'bundle_invalid',
      /is 8004 bytes long, more than the 4096-byte limit/,
    );
  });

  it('a name 257 folders deep', async () => {
    const name = `${'d/'.repeat(256)}x.js`; // 257 segments
    await expectRefused(
      gzipSync(await rawTar([index, { header: { name }, content: 'x' }])),
      'bundle_invalid',
      /257 folders deep, more than the limit of 256/,
    );
  });

  it('a 4 MiB pax path, refused on its header before it is buffered', async () => {
    const bundle = gzipSync(
      Buffer.concat([
        tarEntry({ name: 'index.js', type: '0' }, 'x'),
        tarEntry({ name: 'PaxHeader/p', type: 'x' }, paxRecord('path', 'a/'.repeat(2 * 1024 * 1024))),
        tarEntry({ name: 'p', type: '0' }, 'x'),
        TAR_END,
      ]),
    );
    await expectRefused(bundle, 'bundle_invalid', /tar pax extended header of 4 MiB, more than the 16 KiB limit/);
  });

  it('a 4 MiB GNU long name', async () => {
    const bundle = gzipSync(
      Buffer.concat([
        tarEntry({ name: '././@LongLink', type: 'L' }, `${'n'.repeat(4 * 1024 * 1024)}\0`),
        tarEntry({ name: 'n', type: '0' }, 'x'),
        TAR_END,
      ]),
    );
    await expectRefused(bundle, 'bundle_invalid', /GNU long-name header of 4 MiB/);
  });

  it('a symlink target past 4 KiB', async () => {
    const link = { header: { name: 'l', type: 'symlink' as const, linkname: 'x/'.repeat(2500) } };
    await expectRefused(
      gzipSync(await rawTar([index, link])),
      'bundle_invalid',
      /symlink "l" has a target of 5000 bytes, more than the 4096-byte limit/,
    );
  });

  it('deep names whose implied folders exceed the entry limit', async () => {
    const entries = Array.from({ length: 10 }, (_, i) => ({
      header: { name: `${i}/${'d/'.repeat(250)}f.js` },
      content: 'x',
    }));
    await expectRefused(
      gzipSync(await rawTar([index, ...entries])),
      'bundle_too_large',
      new RegExp(`more than ${MAX_ENTRIES} entries \\(the limit, folders included\\)`),
    );
  });

  it('a 2 MiB package.json', async () => {
    const big = JSON.stringify({ main: 'index.js', padding: 'x'.repeat(2 * 1024 * 1024) });
    await expectRefused(
      await tgzOf({ 'index.js': 'module.exports = (q, s) => s.end("x")', 'package.json': big }),
      'bundle_too_large',
      /package\.json is 2 MiB, more than the 1 MiB limit/,
    );
  });
});

describe('disk a dead worker left behind', () => {
  it("a crashed worker's build folders are removed when it starts again", async () => {
    await createApp(p, 'crashy');
    const res = await p.api$('/api/v1/apps/crashy/deploys', {
      method: 'POST',
      headers: { 'content-type': 'application/gzip' },
      body: new Uint8Array(
        await tgzOf({
          'package.json': JSON.stringify({ name: 'x', main: 'index.js', dependencies: { express: '^4.21.0' } }),
          'index.js': '',
        }),
      ),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const builds = join(p.dataDir, 'builds');
    const left = await until(() => readdirSync(builds).find((n) => n.startsWith(`build-${id}-`)));
    // Killed once its npm install started: that container outlives the worker and may go on writing
    // into the folder, the case where the folder cannot be removed until the container is gone.
    const docker = new Docker();
    await untilAsync(async () => {
      const npm = await docker.listContainers({
        all: true,
        filters: { label: [`${Labels.kind}=npm-install`, `${Labels.deploy}=${id}`] },
      });
      return npm.length > 0 || undefined;
    });
    process.kill(p.pids().worker!, 'SIGKILL');
    // The launcher restarts the worker; it sweeps before taking any build, so the folder goes.
    // Readable (`worker: removed …`) or JSON (`"name":"worker",…,"msg":"removed …"`: not on a terminal).
    await until(() => p.output.find((l) => /\bworker\b.*\bremoved \d+ build folder\(s\)/.test(l)));
    expect(existsSync(join(builds, left))).toBe(false);
  });
});

describe('while all of that ran', () => {
  it('the bystander app served every request and the API answered every health check', async () => {
    expectUnharmed(await bystander.stop());
  });
});

/** Polls (bounded, 60 s) until `probe` gives a value. */
async function until<T>(probe: () => T | undefined): Promise<T> {
  return untilAsync(async () => probe());
}

async function untilAsync<T>(probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not met in 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}
