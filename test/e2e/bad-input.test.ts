import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawTar, tgzOf, zipOf } from '../support/bundles.js';
import { createApp, deploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';

// Bad input of every documented kind gets its documented error; the platform and other apps keep running.
let p: RunningPlatform;
const MAX_BUNDLE = 1024 * 1024;
const MAX_UNPACKED = 4 * 1024 * 1024;

beforeAll(async () => {
  p = await startPlatform({
    // The never-ready release below fails after this long (its test allows 150 s). It also bounds the setup
    // deploy: under the whole suite's load a pod's start has passed 15 s (b8b21e7 gave other platforms 60 s).
    SIDECAR_READY_TIMEOUT_MS: '45000',
    SIDECAR_MAX_BUNDLE_BYTES: String(MAX_BUNDLE),
    SIDECAR_MAX_UNPACKED_BYTES: String(MAX_UNPACKED),
  });
  await createApp(p, 'good');
  const { deploy: d, log } = await deploy(
    p,
    'good',
    await tgzOf({ 'index.js': "module.exports = (q, s) => s.end('still here');" }),
  );
  if (d.status !== 'succeeded') throw new Error(`setup deploy failed:\n${log}`);
  await createApp(p, 'victim');
}, 180_000);
afterAll(async () => {
  await stopPlatform(p);
}, 120_000);

async function expectFailedDeploy(bundle: Buffer, code: string, message: RegExp, contentType = 'application/gzip') {
  const { deploy: d, log } = await deploy(p, 'victim', bundle, contentType);
  expect(d.status, log).toBe('failed');
  expect(d.error?.code).toBe(code);
  expect(d.error?.message).toMatch(message);
  expect(log).toMatch(message); // the user reading the log sees why
}

describe('bad bundles fail the deploy with a message naming the problem', () => {
  it('path traversal', async () => {
    await expectFailedDeploy(
      gzipSync(
        await rawTar([
          { header: { name: '../evil.js' }, content: 'x' },
          { header: { name: 'index.js' }, content: 'x' },
        ]),
      ),
      'bundle_invalid',
      /\.\./,
    );
  });
  it('absolute path', async () => {
    await expectFailedDeploy(
      gzipSync(await rawTar([{ header: { name: '/etc/evil' }, content: 'x' }])),
      'bundle_invalid',
      /absolute|\/etc\/evil/,
    );
  });
  it('a symlink escaping the bundle', async () => {
    await expectFailedDeploy(
      gzipSync(
        await rawTar([
          { header: { name: 'index.js' }, content: 'x' },
          { header: { name: 'leak', type: 'symlink', linkname: '../../etc/passwd' } },
        ]),
      ),
      'bundle_invalid',
      /leak/,
    );
  });
  it('a device file', async () => {
    await expectFailedDeploy(
      gzipSync(
        await rawTar([
          { header: { name: 'index.js' }, content: 'x' },
          { header: { name: 'dev', type: 'character-device', devmajor: 1, devminor: 3 } },
        ]),
      ),
      'bundle_invalid',
      /dev/,
    );
  });
  it('a corrupt gzip', async () => {
    const good = await tgzOf({ 'index.js': 'module.exports = (q, s) => s.end("x")'.repeat(50) });
    const corrupt = Buffer.concat([good.subarray(0, 20), Buffer.alloc(200, 0x41)]);
    await expectFailedDeploy(corrupt, 'bundle_invalid', /gzip|corrupt/i);
  });
  it('not an archive', async () => {
    await expectFailedDeploy(
      Buffer.from('just some text, not a bundle\n'.repeat(30)),
      'bundle_invalid',
      /not an archive/i,
    );
  });
  it('a zip bomb beyond the unpacked limit', async () => {
    const bomb = await zipOf({ 'index.js': 'x', 'bomb.txt': '0'.repeat(MAX_UNPACKED * 2) });
    expect(bomb.length).toBeLessThan(MAX_BUNDLE);
    await expectFailedDeploy(bomb, 'bundle_too_large', /limit|large/i, 'application/zip');
  });
  it('no entry', async () => {
    await expectFailedDeploy(await tgzOf({ 'README.md': '# nothing to run' }), 'bundle_invalid', /no entry found/);
  });
  it('an entry that throws at load: the release never becomes ready, the error is reported', async () => {
    await expectFailedDeploy(
      await tgzOf({ 'index.js': "throw new Error('boom at load time');" }),
      'not_ready',
      /boom at load time/,
    );
  }, 150_000);
});

describe('bad requests get the documented 4xx', () => {
  const post = (path: string, body: BodyInit, headers: Record<string, string>) =>
    p.api$(path, { method: 'POST', body, headers });
  it('a bad app name → 400 invalid_name', async () => {
    const res = await post('/api/v1/apps', JSON.stringify({ name: 'Not_OK' }), { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    expect((await res.json()).code).toBe('invalid_name');
  });
  it('a missing or wrong token → 401', async () => {
    expect((await fetch(`${p.api}/api/v1/apps`)).status).toBe(401);
    const wrong = await fetch(`${p.api}/api/v1/apps`, { headers: { authorization: 'Bearer wrong-token' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('content-type')).toMatch(/problem\+json/);
  });
  it('an unknown app → 404 app_not_found', async () => {
    const res = await post('/api/v1/apps/ghost/deploys', new Uint8Array(await tgzOf({ 'index.js': 'x' })), {
      'content-type': 'application/gzip',
    });
    expect(res.status).toBe(404);
    expect((await res.json()).code).toBe('app_not_found');
  });
  it('an oversized body → 413 bundle_too_large', async () => {
    const res = await post('/api/v1/apps/victim/deploys', Buffer.alloc(MAX_BUNDLE + 1024, 7), {
      'content-type': 'application/gzip',
    });
    expect(res.status).toBe(413);
    expect((await res.json()).code).toBe('bundle_too_large');
  });
});

describe('after all of that', () => {
  it('the platform is healthy and the other app still serves', async () => {
    expect((await fetch(`${p.api}/healthz`)).status).toBe(200);
    expect((await fetch(`${p.api}/readyz`)).status).toBe(200);
    expect(await p.get('good')).toEqual({ status: 200, body: 'still here' });
    const victim = await (await p.api$('/api/v1/apps/victim')).json();
    expect(victim.currentRelease).toBeNull();
  });
});
