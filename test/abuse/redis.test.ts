import {
  APP_LOG_MAX_LINE_BYTES,
  APP_LOG_MAX_LINES,
  DEPLOY_LOG_MAX_LINE_BYTES,
  DEPLOY_LOG_MAX_LINES,
  keys,
} from '@sidecar/store';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { type Bystander, expectUnharmed, startBystander } from '../support/bystander.js';
import { createApp, deploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { freePort } from '../support/global-setup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { eventually } from '../support/pods.js';
import { expectProblem, sendJson } from '../support/problems.js';

/*
 * Redis memory (issue 14, finding 7): every tenant's state lives in the one Redis, so nothing a tenant
 * sends or prints may grow it without bound. Through the public interfaces: env and secrets past their
 * count and size, settings past SIDECAR_MAX_APP_SETTINGS_BYTES (lowered to 48 KiB here, under the 64 KiB
 * of variables, so each limit can be hit alone) are 422 naming the limit and nothing is stored; an app
 * printing more than its log stream keeps is capped in lines and in bytes per line (so in bytes); a
 * build printing without end leaves a deploy log cut at its cap. The test reads what Redis holds on the
 * embedded Redis's port. A bystander app of another tenant keeps serving meanwhile.
 */
const SETTINGS_BYTES = 48 * 1024;
/** What `?tail=` returns at most, in bytes of lines (docs/api.md). */
const MAX_TAIL_BYTES = 4 * 1024 * 1024;
const k = keys('sidecar:');
let p: RunningPlatform;
let bystander: Bystander;
let redis: Redis;

beforeAll(async () => {
  const redisPort = await freePort();
  p = await startPlatform({
    SIDECAR_EMBEDDED_REDIS_PORT: String(redisPort),
    SIDECAR_MAX_APP_SETTINGS_BYTES: String(SETTINGS_BYTES),
  });
  redis = new Redis(`redis://127.0.0.1:${redisPort}`);
  bystander = await startBystander(p);
}, 240_000);
afterAll(async () => {
  await bystander?.stop();
  redis?.disconnect();
  await stopPlatform(p);
}, 120_000);

/** `n` variables named `${prefix}0…` whose values are `bytes` long. */
const vars = (prefix: string, n: number, bytes = 1) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 'v'.repeat(bytes)]));

describe("a tenant growing its app's stored settings", () => {
  const APP = 'bloat';
  const stored = () => redis.strlen(k.app(APP));

  it('201 variables, 90 KB of them, or a 33 KiB value: refused naming the limit; nothing is stored', async () => {
    await createApp(p, APP, { env: { KEEP: 'me' } });
    const before = await stored();
    const patch = (body: object) => sendJson(p, 'PATCH', `/api/v1/apps/${APP}`, body);
    await expectProblem(
      await patch({ env: vars('E', 150), secrets: vars('S', 60) }),
      422,
      'limit_exceeded',
      /env and secrets: 211 variables, more than the 200 allowed \(SIDECAR_MAX_APP_VARS\)/,
    );
    await expectProblem(
      await patch({ secrets: vars('S', 3, 30_000) }),
      422,
      'limit_exceeded',
      /env and secrets: [\d.]+ KiB of names and values, more than the 64 KiB allowed \(SIDECAR_MAX_APP_VARS_BYTES\)/,
    );
    await expectProblem(await patch({ env: { BIG: 'v'.repeat(33 * 1024) } }), 400, 'invalid_request', /BIG/);
    // A job's own env is held to the same limits.
    await expectProblem(
      await sendJson(p, 'POST', `/api/v1/apps/${APP}/jobs`, { command: ['true'], env: vars('J', 201) }),
      422,
      'limit_exceeded',
      /env of the job: 201 variables, more than the 200 allowed \(SIDECAR_MAX_APP_VARS\)/,
    );
    expect(await stored()).toBe(before);
    const app = (await (await p.api$(`/api/v1/apps/${APP}`)).json()) as { env: object; secrets: object };
    expect(app).toMatchObject({ env: { KEEP: 'me' }, secrets: {} });
  });

  it('settings past SIDECAR_MAX_APP_SETTINGS_BYTES (variables within theirs): 422, nothing stored', async () => {
    const before = await stored();
    // 50 KB of variables: under the 64 KiB they may have, over the 48 KiB all settings may.
    await expectProblem(
      await sendJson(p, 'PATCH', `/api/v1/apps/${APP}`, { env: vars('E', 2, 25_000) }),
      422,
      'limit_exceeded',
      /the app's settings are [\d.]+ KiB as stored, more than the 48 KiB allowed \(SIDECAR_MAX_APP_SETTINGS_BYTES\)/,
    );
    expect(await stored()).toBe(before);
    // Within both, the same request shape is taken.
    expect((await sendJson(p, 'PATCH', `/api/v1/apps/${APP}`, { env: vars('E', 2, 10_000) })).status).toBe(200);
  });
});

describe('an app printing without end', () => {
  const APP = 'flood';
  // Each line 5 KB of 3-byte characters (1700 of them): shorter than the collector's per-line cut in
  // characters, longer than the store's 4 KiB in bytes, so the store's byte cap is what holds.
  const server = `
const line = (round, i) => round + '-' + i + ' ' + '\\u20ac'.repeat(1700);
require('http').createServer((req, res) => {
  const round = Number(new URL(req.url, 'http://x').searchParams.get('round'));
  if (!round) return res.end('flood ready');
  let i = 0;
  // In batches, so the server keeps answering its probes while it prints.
  const batch = () => {
    for (let n = 0; n < 100 && i < 1000; n++, i++) console.log(line(round, i));
    if (i < 1000) setImmediate(batch);
    else { console.log('round ' + round + ' done'); res.end('printed'); }
  };
  batch();
}).listen(process.env.PORT);
`;

  it(`keeps ${APP_LOG_MAX_LINES} lines of at most ${APP_LOG_MAX_LINE_BYTES} bytes: 11 000 lines of 5 KB leave under 60 MiB`, async () => {
    await createApp(p, APP);
    const d = await deploy(p, APP, await tgzOf({ 'sidecar.json': '{"start":"node server.js"}', 'server.js': server }));
    expect(d.deploy.status, d.log).toBe('succeeded');
    // Rounds of 1000 lines (5 MB), each waited for in the stream: the engine's own log file of the
    // container (10 MB, rotated) never drops a line the collector has not read yet.
    for (let round = 1; round <= 11; round++) {
      expect(await p.get(APP, `/?round=${round}`)).toEqual({ status: 200, body: 'printed' });
      await eventually(
        `round ${round} in the app's log`,
        async () => {
          const res = await p.api$(`/api/v1/apps/${APP}/logs?tail=1&container=runtime`);
          return (await res.text()).includes(`round ${round} done`) || undefined;
        },
        60_000,
      );
    }
    const key = k.appLogs(APP);
    const length = await redis.xlen(key);
    // Trimmed approximately (whole stream nodes); past the cap, not far past it.
    expect(length).toBeGreaterThanOrEqual(APP_LOG_MAX_LINES);
    expect(length).toBeLessThanOrEqual(APP_LOG_MAX_LINES + 200);
    const bytes = Number(await redis.memory('USAGE', key, 'SAMPLES', '0'));
    console.log(`app log stream after the flood: ${length} entries, ${(bytes / 1024 / 1024).toFixed(1)} MiB in Redis`);
    expect(bytes).toBeGreaterThan(9000 * APP_LOG_MAX_LINE_BYTES); // filled: the lines were stored at their cap…
    // …and no more: a 4 KiB line with its fields takes a 5 or 6 KiB allocation (the allocator's size classes).
    expect(bytes).toBeLessThan((APP_LOG_MAX_LINES + 200) * 6 * 1024);
    // What a reader gets is bounded too: the newest lines that fit in MAX_TAIL_BYTES, each cut by bytes.
    const tail = await (await p.api$(`/api/v1/apps/${APP}/logs?tail=10000&container=runtime`)).text();
    expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(MAX_TAIL_BYTES + 10_000 * 100);
    const lines = tail.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(500);
    for (const l of lines) {
      const text = l.replace(/^\S+ \S+ /, ''); // `<time> <pod>/<container> ` first
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(APP_LOG_MAX_LINE_BYTES);
    }
    expect(tail).toContain('…[cut]');
    expect(tail).toContain('round 11 done');
    expect((await p.get(APP)).body).toBe('flood ready');
  }, 300_000);
});

describe('a build printing without end', () => {
  it(`leaves a deploy log of ${DEPLOY_LOG_MAX_LINES} lines of at most ${DEPLOY_LOG_MAX_LINE_BYTES} bytes, then one notice`, async () => {
    // npm prints a warning over one line per key of an unsupported `engines` (root and dependency):
    // 6000 keys make some 18 000 lines from one small package.json, and one 3000-byte line.
    const engines: Record<string, string> = { node: '<1', long: 'w'.repeat(3000) };
    for (let i = 0; i < 6000; i++) engines[`k${i}`] = 'v';
    const pkg = (name: string, extra: object = {}) => JSON.stringify({ name, version: '1.0.0', engines, ...extra });
    await createApp(p, 'chatty-build');
    const { deploy: d, log } = await deploy(
      p,
      'chatty-build',
      await tgzOf({
        'package.json': pkg('chatty', { main: 'index.js', dependencies: { dep: 'file:dep' } }),
        'dep/package.json': pkg('dep'),
        'index.js': 'module.exports = (q, s) => s.end("built");',
      }),
    );
    expect(d.status, log.slice(-2000)).toBe('succeeded');
    const lines = log.trimEnd().split('\n');
    expect(lines).toHaveLength(DEPLOY_LOG_MAX_LINES + 1);
    expect(lines.at(-1)).toBe(`(the log was cut at ${DEPLOY_LOG_MAX_LINES} lines; later lines were dropped)`);
    expect(lines.filter((l) => l.includes('EBADENGINE')).length).toBeGreaterThan(9000); // npm's output filled it
    expect(Math.max(...lines.map((l) => Buffer.byteLength(l)))).toBeLessThanOrEqual(DEPLOY_LOG_MAX_LINE_BYTES);
    expect(log).toMatch(/long: 'w+ …\[cut\]/);
    // In Redis: the lines, the notice and the deploy's end, nothing more.
    expect(await redis.xlen(k.deployLog(d.id))).toBe(DEPLOY_LOG_MAX_LINES + 2);
    expect(await p.get('chatty-build')).toEqual({ status: 200, body: 'built' });
  }, 180_000);
});

describe("the platform's Redis", () => {
  it('has a memory limit and evicts nothing (writes fail loudly at the limit instead)', async () => {
    expect(await redis.config('GET', 'maxmemory')).toEqual(['maxmemory', String(1024 ** 3)]);
    expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
  });
});

describe('while all of that ran', () => {
  it('the bystander app served every request and the API answered every health check', async () => {
    expectUnharmed(await bystander.stop());
  });
});
