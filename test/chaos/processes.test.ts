import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bystander, startBystander } from '../support/bystander.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { freePort } from '../support/global-setup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { errorLines } from './support/log-lines.js';
import { isAlive, processesMentioning, supervised } from './support/processes.js';
import { loopFigures, recordFault } from './support/report.js';
import { waitUntil } from './support/wait.js';

/*
 * The launcher's supervision under real faults, with traffic running: the router or the API
 * SIGKILLed comes back on its own (shown in /readyz and /metrics) and then nothing fails; a child
 * that keeps crashing makes the launcher give up with a clear message; Ctrl-C leaves a clean log.
 */
let p: RunningPlatform;
let by: Bystander;
beforeAll(async () => {
  p = await startPlatform();
  by = await startBystander(p, { maxMs: 5 * 60_000 });
}, 240_000);
afterAll(async () => {
  await by?.stop();
  await stopPlatform(p);
}, 120_000);

/** SIGKILLs one platform process, waits until the launcher restarted it and it serves, then watches on. */
async function killAndWatch(name: 'router' | 'api', serves: () => Promise<boolean>) {
  const before = supervised(p).find((c) => c.name === name)!;
  expect(before.status).toBe('running');
  by.phase(`${name} killed`);
  const killedAt = Date.now();
  process.kill(before.pid!, 'SIGKILL');
  const after = await waitUntil(
    `${name} restarted by the launcher`,
    () => supervised(p).find((c) => c.name === name && c.status === 'running' && c.pid !== before.pid),
    { timeoutMs: 30_000, describe: () => JSON.stringify(supervised(p)) },
  );
  await waitUntil(`${name} serving again`, async () => ((await serves()) ? true : undefined), { timeoutMs: 30_000 });
  by.phase(`after ${name} restart`);
  // Traffic keeps flowing for a while after the restart: every one of these must succeed.
  const base = by.report().phases.at(-1)!;
  await waitUntil(
    'traffic after the restart',
    () => {
      const now = by.report().phases.at(-1)!;
      return now.app.requests >= base.app.requests + 60 && now.api.requests >= base.api.requests + 15
        ? true
        : undefined;
    },
    { timeoutMs: 60_000 },
  );
  return { before, after, killedAt, report: by.report() };
}

async function readyz() {
  const res = await fetch(`${p.api}/readyz`);
  return {
    status: res.status,
    body: (await res.json()) as {
      checks: Record<string, string>;
      children?: Array<{ name: string; restarts: number }>;
    },
  };
}

describe('a platform process killed', () => {
  it('the router: the launcher restarts it, /readyz and /metrics show it, and no request fails afterwards', async () => {
    const { before, after, killedAt, report } = await killAndWatch('router', async () => {
      const r = await p.get(by.app).catch(() => undefined);
      return r?.status === 200;
    });
    expect(after.restarts).toBe(before.restarts + 1);
    expect(after.lastExit?.signal).toBe('SIGKILL');
    const killed = report.phases.find((x) => x.name === 'router killed')!;
    const recovered = report.phases.find((x) => x.name === 'after router restart')!;
    expect(recovered.app.failures).toBe(0);
    expect(recovered.api.failures).toBe(0);
    // The API never depended on the router.
    expect(killed.api.failures).toBe(0);

    const ready = await waitUntil(
      '/readyz ok again',
      async () => {
        const r = await readyz();
        return r.status === 200 ? r : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(ready.body.checks.processes).toBe('ok');
    expect(ready.body.children?.find((c) => c.name === 'router')?.restarts).toBe(after.restarts);
    const metrics = await (await fetch(`${p.api}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`sidecar_process_restarts\\{process="router"\\} ${after.restarts}\\b`));
    expect(metrics).toMatch(/sidecar_process_up\{process="router"\} 1\b/);

    recordFault({
      fault: 'router SIGKILLed',
      usersSee: killed.app.failures
        ? 'app requests refused until the launcher has restarted the router, then normal'
        : 'nothing',
      appRequests: loopFigures(report.phases, 'app', { from: 'router killed', recovered: 'after router restart' }),
      apiRequests: loopFigures(report.phases, 'api', { from: 'router killed', recovered: 'after router restart' }),
      dataLost: 'none (the router holds no state; it reloads the routing table from Redis)',
      recoverMs: (killed.app.fineAgainAt ?? recovered.startedAt) - killedAt,
      recoveredFrom: 'fault start',
      details: { restarts: after.restarts, appFailuresWhileDown: killed.app.failures },
    });
  });

  it('the API: the launcher restarts it; apps never notice and the API answers again', async () => {
    const { before, after, killedAt, report } = await killAndWatch('api', async () => {
      const r = await fetch(`${p.api}/healthz`).catch(() => undefined);
      return r?.status === 200;
    });
    expect(after.restarts).toBe(before.restarts + 1);
    const killed = report.phases.find((x) => x.name === 'api killed')!;
    const recovered = report.phases.find((x) => x.name === 'after api restart')!;
    expect(killed.app.failures).toBe(0); // traffic to apps does not go through the API
    expect(recovered.app.failures).toBe(0);
    expect(recovered.api.failures).toBe(0);
    // The restarted API reads what the old one wrote: the bystander app is still there.
    expect((await p.api$(`/api/v1/apps/${by.app}`)).status).toBe(200);
    const metrics = await (await fetch(`${p.api}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`sidecar_process_restarts\\{process="api"\\} ${after.restarts}\\b`));

    recordFault({
      fault: 'API SIGKILLed',
      usersSee: 'API calls refused until the launcher has restarted it; apps unaffected',
      appRequests: loopFigures(report.phases, 'app', { from: 'api killed', recovered: 'after api restart' }),
      apiRequests: loopFigures(report.phases, 'api', { from: 'api killed', recovered: 'after api restart' }),
      dataLost: 'none (the API holds no state of its own)',
      recoverMs: (killed.api.fineAgainAt ?? recovered.startedAt) - killedAt,
      recoveredFrom: 'fault start',
      details: { restarts: after.restarts, apiFailuresWhileDown: killed.api.failures },
    });
  });
});

describe('supervision limits', () => {
  it('a child that keeps crashing makes the launcher give up with a clear message and stop everything', async () => {
    // The router cannot bind its TLS port (held here), so it exits at every start.
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    const dataDir = mkdtempSync(join(tmpdir(), 'sidecar-chaos-loop-'));
    const startedAt = Date.now();
    try {
      const error = await startPlatform({ SIDECAR_ROUTER_TLS_PORT: String(port) }, { dataDir }).then(
        () => new Error('the platform started although its router cannot'),
        (e: unknown) => e as Error,
      );
      expect(error.message).toMatch(/platform exited with 1/);
      expect(error.message).toMatch(
        /router keeps crashing \(last: exit code 1; last error: .*EADDRINUSE.*\); giving up/,
      );
      // Everything it started is gone: no orphan API, worker or Redis, and not the HAProxy a router started
      // before it failed (it outlives a router on purpose, for the next one to adopt).
      expect(processesMentioning(dataDir)).toEqual([]);
      const children = supervised({ dataDir } as RunningPlatform);
      expect(children.find((c) => c.name === 'router')?.status).toBe('failed');
      for (const c of children) expect(c.status === 'stopped' || c.status === 'failed', JSON.stringify(c)).toBe(true);
      const crashes = children.find((c) => c.name === 'router')!;
      recordFault({
        fault: 'a process in a crash loop (router cannot bind its port)',
        usersSee: 'the platform does not start; the launcher exits 1 naming the process and its last error',
        appRequests: { sent: 0, failed: 0, failedAfterRecovery: 0 },
        apiRequests: { sent: 0, failed: 0, failedAfterRecovery: 0 },
        dataLost: 'none',
        recoverMs: null,
        details: { restartsBeforeGivingUp: crashes.restarts, msUntilGivenUp: Date.now() - startedAt },
      });
    } finally {
      blocker.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);

  it('Ctrl-C stops every process in order with a clean log', async () => {
    const pids = supervised(p).map((c) => c.pid!);
    const from = p.output.length;
    const code = await p.stop({ signal: 'SIGINT', keepData: true });
    const lines = p.output.slice(from);
    expect(code).toBe(0);
    expect(errorLines(lines), lines.join('\n')).toEqual([]);
    expect(lines.join('\n')).toMatch(/SIGINT: stopping/);
    for (const pid of pids) expect(isAlive(pid), `process ${pid} still runs`).toBe(false);
    expect(supervised(p).map((c) => c.status)).toEqual(supervised(p).map(() => 'stopped'));
    rmSync(p.dataDir, { recursive: true, force: true });
  });
});
