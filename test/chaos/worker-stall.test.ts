import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { BYSTANDER_BODY, type Bystander, startBystander } from '../support/bystander.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { freePort } from '../support/global-setup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { deployEnded, deployLogText, followDeployLog, upload } from './support/deploys.js';
import { supervised } from './support/processes.js';
import { loopFigures, recordFault } from './support/report.js';
import { waitUntil } from './support/wait.js';

/*
 * The worker frozen (SIGSTOP: a stalled VM, a swapped-out process) in a rollout for longer than its app
 * lock's TTL (30 s), then let go (SIGCONT). Meanwhile its BullMQ job lock (10 s) and its app lock have
 * expired, so on waking BullMQ hands the stalled job out again while the first attempt is still in the
 * same process, a few steps from switching the routes. The first attempt must find its lock gone and
 * stop before it switches anything: one deploy never runs as two rollouts. The bystander app is the
 * one redeployed, so its traffic loop is the app's users.
 */
let p: RunningPlatform;
let by: Bystander;
let redis: Redis;
beforeAll(async () => {
  const redisPort = await freePort();
  // No warm window: the test checks that only the rolled-out release's pod is left.
  p = await startPlatform({
    SIDECAR_READY_TIMEOUT_MS: '60000',
    SIDECAR_EMBEDDED_REDIS_PORT: String(redisPort),
    SIDECAR_ROLLBACK_WINDOW_MS: '0',
  });
  redis = new Redis(`redis://127.0.0.1:${redisPort}`);
  by = await startBystander(p, { maxMs: 6 * 60_000 });
}, 240_000);
afterAll(async () => {
  redis?.disconnect();
  await by?.stop();
  await stopPlatform(p);
}, 120_000);

const RUNTIME_STARTED = /^pod (\S+): runtime started/;

/** Uploads a new release of the bystander and freezes the worker once its new pod's runtime has started (before the switch). */
async function freezeWorkerInRollout(): Promise<{ id: string; worker: number; frozenAt: number }> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const worker = supervised(p).find((c) => c.name === 'worker' && c.status === 'running')?.pid;
    if (!worker) throw new Error('no worker running');
    const id = await upload(
      p,
      by.app,
      await tgzOf({
        'index.js': `// stall ${attempt}\nmodule.exports = (q, s) => s.end(${JSON.stringify(BYSTANDER_BODY)});`,
      }),
    );
    let frozenAt = 0;
    const follow = followDeployLog(p, by.app, id, (line) => {
      if (frozenAt || !RUNTIME_STARTED.test(line)) return;
      process.kill(worker, 'SIGSTOP');
      frozenAt = Date.now();
    });
    await waitUntil('the new pod started', () => (frozenAt ? true : undefined), { timeoutMs: 120_000 });
    follow.stop();
    if (!/^routes: /m.test(await deployLogText(p, by.app, id))) return { id, worker, frozenAt };
    // The switch came before the freeze: let this deploy end and try again.
    process.kill(worker, 'SIGCONT');
    await deployEnded(p, by.app, id);
  }
  throw new Error('could not freeze the worker before the switch in 3 deploys');
}

describe('the worker frozen in a rollout past its app lock', () => {
  it('wakes to find its lock gone and stops; the deploy rolls out once, and the app serves throughout', async () => {
    const restartsBefore = supervised(p).find((c) => c.name === 'worker')!.restarts;
    const { id, worker, frozenAt } = await freezeWorkerInRollout();
    by.phase('worker frozen');
    // Frozen until the app lock has expired in Redis (its TTL is 30 s; the job lock's 10 s went before).
    const lockKey = `sidecar:lock:app:${by.app}`;
    await waitUntil('the app lock expired', async () => ((await redis.pttl(lockKey)) === -2 ? true : undefined), {
      timeoutMs: 60_000,
      everyMs: 200,
    });
    const frozenMs = Date.now() - frozenAt;
    process.kill(worker, 'SIGCONT');
    by.phase('worker resumed');
    const resumedAt = Date.now();
    const ended = await deployEnded(p, by.app, id);
    const endedAt = Date.now();
    by.phase('after');
    await waitUntil(
      'traffic after the deploy',
      () => (by.report().phases.at(-1)!.app.requests >= 40 ? true : undefined),
      {
        timeoutMs: 60_000,
      },
    );
    const report = by.report();

    const lines = ended.log.split('\n');
    const switches = lines.filter((l) => /^routes: /.test(l));
    const started = [...new Set(lines.map((l) => RUNTIME_STARTED.exec(l)?.[1]).filter((x): x is string => !!x))];
    const { items } = (await (await p.api$(`/api/v1/apps/${by.app}/pods`)).json()) as {
      items: Array<{ name: string }>;
    };
    expect(ended.deploy.status, ended.log).toBe('succeeded');
    // One rollout switched the routes, once, to the one pod that runs now; the frozen attempt's pod is gone.
    expect(switches, ended.log).toHaveLength(1);
    expect(items.map((x) => x.name)).toEqual([switches[0]!.replace(/^routes: \S+ → /, '')]);
    expect(started).toContain(items[0]!.name);
    // The frozen attempt learnt that its lock was lost (and let the retried job roll out).
    expect(ended.log).toMatch(/lock \S+ was lost/);
    // Not restarted: the same worker process woke up.
    expect(supervised(p).find((c) => c.name === 'worker')).toMatchObject({ pid: worker, restarts: restartsBefore });
    for (const phase of ['worker frozen', 'worker resumed', 'after'])
      expect(report.phases.find((x) => x.name === phase)!.app.failures, report.appFailures.join('\n')).toBe(0);

    recordFault({
      fault: 'worker frozen (SIGSTOP) in a rollout past its app lock (30 s), then resumed',
      usersSee: 'apps: nothing; the deploy succeeded, rolled out once',
      appRequests: loopFigures(report.phases, 'app', { from: 'worker frozen', recovered: 'after' }),
      apiRequests: loopFigures(report.phases, 'api', { from: 'worker frozen', recovered: 'after' }),
      dataLost: 'none',
      recoverMs: endedAt - resumedAt,
      recoveredFrom: 'fault end',
      details: {
        frozenMs,
        routeSwitches: switches.length,
        podsStarted: started.length,
        rolloutAttempts: lines.filter((l) => /^deploy: rolling out /.test(l)).length,
      },
    });
  });
});
