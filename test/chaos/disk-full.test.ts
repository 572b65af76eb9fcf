import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { type Bystander, startBystander } from '../support/bystander.js';
import { createApp, deploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { deployEnded, upload } from './support/deploys.js';
import { appLogLines, holdings } from './support/holdings.js';
import { loopFigures, recordFault } from './support/report.js';
import { waitUntil } from './support/wait.js';

/*
 * The platform's disk fills up. Its data dir (bundles, build folders, Redis's append-only file) is a
 * small tmpfs mounted for this file, so "full" is real ENOSPC from the kernel. First a build fills it
 * (a bundle that unpacks to more than the disk holds): the deploy fails saying the disk is full, and
 * the space comes back. Then something else fills it under traffic: apps keep serving, the API refuses
 * writes with 507 `insufficient_storage`, what apps print meanwhile waits; once space is freed
 * everything works again, nothing printed is lost, and nothing is corrupted (the AOF checks valid, a
 * restarted platform loads it, every bundle matches its digest).
 */
const canRun = process.getuid?.() === 0;
if (!canRun) console.info('skipped: the disk-full test mounts a tmpfs (needs root)');
const DISK_MIB = 64;

let dataDir: string;
let p: RunningPlatform;
let by: Bystander;
const platformId = `chaos-disk-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  if (!canRun) return;
  dataDir = mkdtempSync(join(tmpdir(), 'sidecar-chaos-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_MIB}m,mode=0700`, 'tmpfs', dataDir]);
  p = await startPlatform({}, { dataDir, platformId });
  by = await startBystander(p, { maxMs: 8 * 60_000 });
}, 240_000);

afterAll(async () => {
  await by?.stop();
  await stopPlatform(p);
  if (dataDir) {
    execFileSync('umount', ['-l', dataDir]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 120_000);

const freeBytes = () => {
  const s = statfsSync(dataDir);
  return s.bavail * s.bsize;
};
/** Takes every free byte of the data dir (fallocate: the kernel's own accounting, no data written). */
function fillDisk(): string {
  const filler = join(dataDir, `filler-${randomUUID().slice(0, 8)}`);
  execFileSync('fallocate', ['-l', String(freeBytes()), filler]);
  return filler;
}
const handler = (text: string) => `module.exports = (q, s) => s.end(${JSON.stringify(text)});`;

describe.skipIf(!canRun)('the disk full', () => {
  it('filled by a build: the deploy fails saying the disk is full, the space comes back, the next deploy works', async () => {
    await createApp(p, 'hoarder');
    const freeBefore = freeBytes();
    // Unpacks to more than the whole disk (tiny compressed: a file of zeros).
    const bundle = await tgzOf({ 'index.js': handler('hoarder'), 'data.bin': '\0'.repeat((DISK_MIB + 16) << 20) });
    by.phase('build fills the disk');
    const startedAt = Date.now();
    const ended = await deployEnded(p, 'hoarder', await upload(p, 'hoarder', bundle));
    const failedAfterMs = Date.now() - startedAt;
    expect(ended.deploy.status, ended.log).toBe('failed');
    expect(ended.deploy.error, ended.log).toMatchObject({ code: 'insufficient_storage' });
    expect(ended.deploy.error?.message).toMatch(/the platform's disk is full: .*no space left on device/);
    // The build folders went with the failure: the space is back.
    expect(freeBytes()).toBeGreaterThan(freeBefore * 0.9);
    by.phase('after the failed build');
    const next = await deploy(p, 'hoarder', await tgzOf({ 'index.js': handler('small again') }));
    expect(next.deploy.status, next.log).toBe('succeeded');
    expect((await p.get('hoarder')).body).toBe('small again');
    const phases = by.report().phases;
    const during = phases.find((x) => x.name === 'build fills the disk')!;
    expect(during.app.failures).toBe(0);

    // Each attempt ran once: it freed its build folder before recording its end (with the disk still
    // full Redis refused that write, and BullMQ ran the attempt again).
    const runs = [...ended.log.matchAll(/build: started \(attempt (\d)\)/g)].map((m) => Number(m[1]));
    const retries = [...ended.log.matchAll(/transient error, will retry/g)].length;
    expect(runs, ended.log).toEqual([1, 2, 3]);
    expect(retries).toBe(2);
    recordFault({
      fault: 'disk full: a build fills the data dir (bundle unpacks to more than the disk)',
      usersSee: `the deploy fails after its 3 attempts: "${ended.deploy.error?.message ?? ''}"; apps: nothing`,
      appRequests: loopFigures(phases, 'app', { from: 'build fills the disk' }),
      apiRequests: loopFigures(phases, 'api', { from: 'build fills the disk' }),
      dataLost: `none of the platform's state; the deploy log has ${runs.length} build runs (attempts ${runs.join(', ')}) and ${retries} "will retry" lines`,
      recoverMs: failedAfterMs,
      recoveredFrom: 'fault start',
      details: {
        deployFailedAfterMs: failedAfterMs,
        freeMiBBefore: Math.round(freeBefore / 2 ** 20),
        freeMiBAfter: Math.round(freeBytes() / 2 ** 20),
        nextDeploy: next.deploy.status,
        nextDeployMs: next.deploy.timings.totalMs,
      },
    });
  });

  it('filled by something else under traffic: apps serve, writes answer 507, and once freed nothing is lost or corrupted', async () => {
    await createApp(p, 'diary');
    // Prints one line per request: what an app writes while the disk is full must arrive later.
    const diary = await deploy(
      p,
      'diary',
      await tgzOf({
        'index.js': `module.exports = (q, s) => { console.log('diary ' + q.url.slice(1) + ' ' + 'x'.repeat(1000)); s.end('noted'); };`,
      }),
    );
    expect(diary.deploy.status, diary.log).toBe('succeeded');
    const before = { bystander: await holdings(p, by.app), diary: await holdings(p, 'diary') };
    // The worker follows a new pod's output from its next scan: until then the app's lines are not being
    // stored, and with the disk filled before that, no store would be tried (and refused) while it is full.
    expect((await p.request('diary', { path: '/collected' })).status).toBe(200);
    await waitUntil(
      "the app's output being stored",
      async () =>
        (await appLogLines(p, 'diary', 'runtime')).some((l) => l.line.startsWith('diary collected')) ? true : undefined,
      { timeoutMs: 30_000, everyMs: 100 },
    );

    by.phase('disk full');
    const fullAt = Date.now();
    const outputFrom = p.output.length;
    const filler = fillDisk();
    expect(freeBytes()).toBe(0);
    // Redis may still fit a few writes in its append-only file's last page: the app prints (1 KB lines)
    // until the worker's attempt to store them is refused, then a few more lines that must wait.
    const refused = () => p.output.slice(outputFrom).some((l) => l.includes('log collector: storing lines failed'));
    const noted: number[] = [];
    const note = async (n: number) => {
      if ((await p.request('diary', { path: `/${n}` })).status === 200) noted.push(n);
    };
    let sent = 0;
    while (sent < 300 && !refused()) await note(++sent);
    await waitUntil("the log collector's store refused", () => (refused() ? true : undefined), {
      timeoutMs: 30_000,
      // Seen failing twice (2026-12-07) without a cause on record: what the app and the platform did then.
      describe: () =>
        `${noted.length} of ${sent} requests answered 200; the platform since the disk filled:\n` +
        p.output
          .slice(outputFrom)
          .filter((l) => !l.includes('"msg":"request"'))
          .slice(-40)
          .join('\n'),
    });
    for (const end = sent + 5; sent < end;) await note(++sent);
    const create = await p.api$('/api/v1/apps', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'latecomer' }),
    });
    const createProblem = (await create.json()) as { code?: string; detail?: string };
    const uploadAnswer = await p.api$('/api/v1/apps/diary/deploys', {
      method: 'POST',
      headers: { 'content-type': 'application/gzip' },
      body: new Uint8Array(await tgzOf({ 'index.js': handler('while full') })),
    });
    const uploadProblem = (await uploadAnswer.json()) as { code?: string; detail?: string };
    const reads = await p.api$('/api/v1/apps');
    expect(noted).toHaveLength(sent); // apps kept serving
    expect(create.status).toBe(507);
    expect(createProblem.code).toBe('insufficient_storage');
    expect(uploadAnswer.status).toBe(507);
    expect(uploadProblem.detail).toMatch(/no space left on the platform's disk/);
    expect(reads.status).toBe(200);

    by.phase('space freed');
    const fullMs = Date.now() - fullAt;
    unlinkSync(filler);
    const freedAt = Date.now();
    // Writes work again once Redis has written its AOF (it retries by itself).
    const writable = await waitUntil(
      'an API write succeeds again',
      async () => {
        const res = await p.api$('/api/v1/apps', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'latecomer' }),
        });
        return res.status === 201 ? Date.now() : undefined;
      },
      { timeoutMs: 30_000, everyMs: 100 },
    );
    // Every line the app printed while the disk was full is stored (the log reader kept its cursor).
    const linesAt = await waitUntil(
      'the lines printed while the disk was full',
      async () => {
        const lines = new Set((await appLogLines(p, 'diary', 'runtime')).map((l) => l.line.split(' ', 2).join(' ')));
        return noted.every((n) => lines.has(`diary ${n}`)) ? Date.now() : undefined;
      },
      { timeoutMs: 30_000, everyMs: 200 },
    );
    const redeploy = await deploy(p, 'diary', await tgzOf({ 'index.js': handler('after the disk was freed') }));
    expect(redeploy.deploy.status, redeploy.log).toBe('succeeded');
    const phases = by.report().phases;
    expect(phases.find((x) => x.name === 'disk full')!.app.failures).toBe(0);
    expect(phases.find((x) => x.name === 'space freed')!.app.failures).toBe(0);

    // Nothing corrupted: the append-only file checks valid, every bundle matches its digest, no upload half-written.
    const aofDir = join(dataDir, 'redis', 'appendonlydir');
    const manifest = readdirSync(aofDir).find((f) => f.endsWith('.manifest'))!;
    const aofCheck = execFileSync('redis-check-aof', [join(aofDir, manifest)], { encoding: 'utf8' });
    expect(aofCheck).toMatch(/is valid/);
    const bundles = join(dataDir, 'bundles');
    expect(readdirSync(bundles).filter((f) => f.startsWith('.upload-'))).toEqual([]);
    for (const f of readdirSync(join(bundles, 'sha256')))
      expect(
        createHash('sha256')
          .update(readFileSync(join(bundles, 'sha256', f)))
          .digest('hex'),
      ).toBe(f);
    // ... and a platform restarted on the same data dir loads it: everything is there.
    by.phase('platform restart (not the fault)');
    const ports = { apiPort: Number(new URL(p.api).port), routerPort: p.routerPort };
    await p.stop({ keepData: true });
    p = await startPlatform({ SIDECAR_ROUTER_TLS_PORT: String(p.routerTlsPort) }, { dataDir, platformId, ...ports });
    expect(await holdings(p, by.app)).toEqual(before.bystander);
    const diaryAfter = await holdings(p, 'diary');
    expect(diaryAfter.releases).toEqual(expect.arrayContaining(before.diary.releases));
    expect(diaryAfter.deploys).toEqual(expect.arrayContaining(before.diary.deploys));
    expect(diaryAfter.releases).toHaveLength(before.diary.releases.length + 1);
    expect((await p.api$('/api/v1/apps/latecomer')).status).toBe(200);

    recordFault({
      fault: 'disk full: the data dir filled by something else, then freed',
      usersSee:
        'apps: nothing; API: reads work, writes answer 507 insufficient_storage (uploads: "no space left on the platform\'s disk to store the bundle"); after freeing, all works again',
      appRequests: loopFigures(phases, 'app', { from: 'disk full', recovered: 'space freed' }),
      apiRequests: loopFigures(phases, 'api', { from: 'disk full', recovered: 'space freed' }),
      dataLost: `none: ${noted.length} of ${noted.length} lines the app printed while full were stored after; AOF valid (redis-check-aof), reloaded by a restart; bundles match their digests`,
      recoverMs: writable - freedAt,
      recoveredFrom: 'fault end',
      details: {
        fullForMs: fullMs,
        createWhileFull: `${create.status} ${createProblem.code ?? ''}`,
        uploadWhileFull: `${uploadAnswer.status} ${uploadProblem.code ?? ''}`,
        linesStoredAfterFreeMs: linesAt - freedAt,
        redeployAfterMs: redeploy.deploy.timings.totalMs,
      },
    });
  });
});
