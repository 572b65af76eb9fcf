import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { type Bystander, startBystander } from '../support/bystander.js';
import { createApp, deploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { type ApiSample, ApiWatch } from './support/api-watch.js';
import { deployEnded, deployOf, upload } from './support/deploys.js';
import { redisServerPid, supervised } from './support/processes.js';
import { loopFigures, recordFault } from './support/report.js';
import { waitUntil } from './support/wait.js';

/*
 * The platform's one store goes away under traffic: frozen (SIGSTOP, as a stalled disk or a paused VM
 * does) for 10 s, then killed (SIGKILL). Apps that were serving keep serving, the API says 503
 * `store_unavailable` instead of hanging, deploys in flight end, and after the kill the launcher
 * restarts Redis, which reloads its AOF: nothing acknowledged is lost.
 */
const FREEZE_MS = 10_000;
let p: RunningPlatform;
let by: Bystander;
beforeAll(async () => {
  p = await startPlatform();
  by = await startBystander(p, { maxMs: 6 * 60_000 });
}, 240_000);
afterAll(async () => {
  await by?.stop();
  await stopPlatform(p);
}, 120_000);

const handler = (text: string) => tgzOf({ 'index.js': `module.exports = (q, s) => s.end(${JSON.stringify(text)});` });

/** Median and worst latency of the answers, and how many were 503 `store_unavailable`. */
function answers(samples: ApiSample[]) {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  return {
    count: samples.length,
    storeUnavailable: samples.filter((s) => s.status === 503 && s.code === 'store_unavailable').length,
    statuses: [...new Set(samples.map((s) => s.status))].sort(),
    medianMs: ms[Math.floor(ms.length / 2)] ?? null,
    maxMs: ms.at(-1) ?? null,
  };
}

async function appsListed(): Promise<string[]> {
  const res = await p.api$('/api/v1/apps');
  if (res.status !== 200) throw new Error(`apps: ${res.status}`);
  return ((await res.json()) as { items: Array<{ name: string }> }).items.map((a) => a.name);
}

describe('Redis', () => {
  it(`frozen for ${FREEZE_MS / 1000} s: apps keep serving, the API answers 503 store_unavailable, a deploy in flight ends`, async () => {
    await createApp(p, 'inflight');
    const apiWatch = new ApiWatch(p, '/api/v1/apps');
    const readyWatch = new ApiWatch(p, '/readyz', { auth: false });
    const id = await upload(p, 'inflight', await handler('in flight'));
    const statusAtFreeze = await waitUntil(
      'the deploy started',
      async () => {
        const s = (await deployOf(p, 'inflight', id)).status;
        return s === 'queued' ? undefined : s;
      },
      { timeoutMs: 60_000 },
    );
    const redis = redisServerPid(p);
    by.phase('redis frozen');
    const frozenAt = Date.now();
    process.kill(redis, 'SIGSTOP');
    let thawedAt: number;
    try {
      // The API must answer during the outage (not only after it): wait for those answers, then for the
      // rest of the fault's duration.
      await waitUntil(
        'the API answering 503 while Redis is frozen',
        () =>
          apiWatch.between(frozenAt).some((s) => s.code === 'store_unavailable') &&
          readyWatch.between(frozenAt).some((s) => s.status === 503)
            ? true
            : undefined,
        { timeoutMs: FREEZE_MS },
      ).catch(() => undefined); // judged below, after Redis runs again
      await new Promise((r) => setTimeout(r, Math.max(0, frozenAt + FREEZE_MS - Date.now())));
    } finally {
      process.kill(redis, 'SIGCONT');
      thawedAt = Date.now();
    }
    by.phase('redis back');
    const apiBack = await waitUntil(
      'the API answering 200 again',
      () => apiWatch.settledAt(thawedAt, 200) ?? undefined,
      { timeoutMs: 60_000 },
    );
    const readyBack = await waitUntil('/readyz 200 again', () => readyWatch.settledAt(thawedAt, 200) ?? undefined, {
      timeoutMs: 60_000,
    });
    const ended = await deployEnded(p, 'inflight', id);
    // The worker resumed: a deploy made after the outage goes through.
    const after = await deploy(p, 'inflight', await handler('after the freeze'));
    by.phase('after');
    await waitUntil(
      'traffic after the outage',
      () => (by.report().phases.at(-1)!.app.requests >= 40 ? true : undefined),
      {
        timeoutMs: 60_000,
      },
    );
    const apiDuring = answers(apiWatch.between(frozenAt, thawedAt).filter((s) => s.at + s.ms < thawedAt));
    const readyDuring = answers(readyWatch.between(frozenAt, thawedAt).filter((s) => s.at + s.ms < thawedAt));
    await Promise.all([apiWatch.stop(), readyWatch.stop()]);
    const report = by.report();
    const frozen = report.phases.find((x) => x.name === 'redis frozen')!;

    expect(frozen.app.failures, report.appFailures.join('\n')).toBe(0);
    // Answered while Redis was still frozen (a hang would answer only after the thaw), each one 503 store_unavailable.
    expect(apiDuring.storeUnavailable).toBeGreaterThan(0);
    expect(apiDuring.statuses).toEqual([503]);
    expect(readyDuring.statuses).toEqual([503]);
    expect(['succeeded', 'failed'], ended.log).toContain(ended.deploy.status);
    if (ended.deploy.status === 'failed') expect(ended.deploy.error?.message).toBeTruthy();
    expect(after.deploy.status, after.log).toBe('succeeded');
    expect(await p.get('inflight')).toEqual({ status: 200, body: 'after the freeze' });
    expect(report.phases.find((x) => x.name === 'after')!.app.failures).toBe(0);

    recordFault({
      fault: `Redis frozen (SIGSTOP) for ${FREEZE_MS / 1000} s`,
      usersSee: `apps: nothing; API: 503 store_unavailable (median ${apiDuring.medianMs} ms, worst ${apiDuring.maxMs} ms), /readyz 503; a deploy in flight ${ended.deploy.status}`,
      appRequests: loopFigures(report.phases, 'app', { from: 'redis frozen', recovered: 'after' }),
      apiRequests: {
        sent: apiDuring.count,
        failed: apiDuring.count,
        failedAfterRecovery: 0,
      },
      dataLost: 'none',
      recoverMs: Math.max(apiBack, readyBack) - thawedAt,
      recoveredFrom: 'fault end',
      details: {
        api: apiDuring,
        readyz: readyDuring,
        deployInFlight: { statusAtFreeze, outcome: ended.deploy.status, error: ended.deploy.error?.message ?? null },
      },
    });
  });

  it('killed (SIGKILL): the launcher restarts it, apps keep serving, and apps, releases, tokens and deploys are all there', async () => {
    const tokenRes = await p.api$('/api/v1/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'before-the-kill', role: 'deployer', apps: ['*'] }),
    });
    expect(tokenRes.status).toBe(201);
    const { token } = (await tokenRes.json()) as { token: string };
    const releasesBefore = await (await p.api$(`/api/v1/apps/${by.app}/releases`)).text();
    const deploysBefore = (await (await p.api$(`/api/v1/apps/${by.app}/deploys`)).json()) as { items: unknown[] };
    const before = supervised(p).find((c) => c.name === 'redis')!;
    const readyWatch = new ApiWatch(p, '/readyz', { auth: false });
    const apiWatch = new ApiWatch(p, '/api/v1/apps');
    // The last write is acknowledged right before the kill: the AOF must have it.
    await createApp(p, 'last-write');
    const redis = redisServerPid(p);
    by.phase('redis killed');
    const killedAt = Date.now();
    process.kill(redis, 'SIGKILL');
    await waitUntil(
      'redis restarted by the launcher',
      () => supervised(p).find((c) => c.name === 'redis' && c.status === 'running' && c.pid !== before.pid),
      { timeoutMs: 30_000, describe: () => JSON.stringify(supervised(p)) },
    );
    const apps = await waitUntil('the API reading apps again', () => appsListed().catch(() => undefined), {
      timeoutMs: 60_000,
    });
    const readyAt = await waitUntil('/readyz 200 again', () => readyWatch.settledAt(killedAt, 200) ?? undefined, {
      timeoutMs: 60_000,
    });
    by.phase('redis back');

    expect(apps).toEqual(expect.arrayContaining([by.app, 'inflight', 'last-write']));
    expect(await (await p.api$(`/api/v1/apps/${by.app}/releases`)).text()).toBe(releasesBefore);
    const deploysAfter = (await (await p.api$(`/api/v1/apps/${by.app}/deploys`)).json()) as { items: unknown[] };
    expect(deploysAfter.items).toEqual(deploysBefore.items);
    const whoami = await fetch(`${p.api}/api/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(whoami.status).toBe(200);
    expect(((await whoami.json()) as { name: string }).name).toBe('before-the-kill');
    // The worker reconnected: deploys work again.
    const after = await deploy(p, 'last-write', await handler('after the kill'));
    expect(after.deploy.status, after.log).toBe('succeeded');
    await waitUntil(
      'traffic after the restart',
      () => (by.report().phases.at(-1)!.app.requests >= 40 ? true : undefined),
      {
        timeoutMs: 60_000,
      },
    );
    await Promise.all([readyWatch.stop(), apiWatch.stop()]);
    const apiDuring = answers(apiWatch.between(killedAt, readyAt));
    const report = by.report();
    const killed = report.phases.find((x) => x.name === 'redis killed')!;
    expect(killed.app.failures, report.appFailures.join('\n')).toBe(0);
    expect(report.phases.find((x) => x.name === 'redis back')!.app.failures).toBe(0);
    const restarted = supervised(p).find((c) => c.name === 'redis')!;
    expect(restarted.restarts).toBe(before.restarts + 1);

    recordFault({
      fault: 'Redis killed (SIGKILL)',
      usersSee: `apps: nothing; API: ${apiDuring.storeUnavailable} answers 503 store_unavailable (worst ${apiDuring.maxMs} ms) until the launcher had restarted Redis`,
      appRequests: loopFigures(report.phases, 'app', { from: 'redis killed', recovered: 'redis back' }),
      // The store-backed loop (GET /apps) until /readyz was 200 again; after that, no request failed.
      apiRequests: {
        sent: apiDuring.count,
        failed: apiDuring.count - apiWatch.between(killedAt, readyAt).filter((s) => s.status === 200).length,
        failedAfterRecovery: apiWatch.between(readyAt).filter((s) => s.status !== 200).length,
      },
      dataLost: 'none: apps, releases, tokens, deploy history and the last acknowledged write were all there',
      recoverMs: readyAt - killedAt,
      recoveredFrom: 'fault start',
      details: {
        redisRestarts: restarted.restarts,
        api: apiDuring,
        healthz: loopFigures(report.phases, 'api', { from: 'redis killed' }),
      },
    });
  });
});
