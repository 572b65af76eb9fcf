import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { createApp } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { deployEnded, upload } from './support/deploys.js';
import { recordFault } from './support/report.js';

/*
 * Logs lose nothing under load: dozens of apps running on a 2-core machine, all of them redeployed (a
 * config change), every other one rolled back, and all scaled to zero, at once. Every pod prints a line
 * when it starts and two in its SIGTERM handler, and the runtime one when the app has exited. Once the deploys have ended (old pods are removed only
 * after their output was stored) every line of every pod a deploy made ready is in its app's log.
 *
 * A rollout the load makes fail (a probe timing out) is tried again (at most 3 times, reported); the
 * pods judged are those of the rollouts that succeeded, read from their deploy logs.
 */
const APPS = 24;
let p: RunningPlatform;
beforeAll(async () => {
  p = await startPlatform({
    SIDECAR_READY_TIMEOUT_MS: '120000',
    // No warm window: every rollout starts new pods and stops the old ones, whose lines the test counts.
    SIDECAR_ROLLBACK_WINDOW_MS: '0',
    SIDECAR_BUILD_CONCURRENCY: '2',
    SIDECAR_DEPLOY_CONCURRENCY: '10',
  });
}, 240_000);
afterAll(async () => {
  await stopPlatform(p);
}, 300_000);

const server = `const http = require('node:http');
console.log('hello from round ' + (process.env.ROUND || '1'));
const server = http.createServer((q, s) => s.end('ok')).listen(process.env.PORT);
process.on('SIGTERM', () => {
  console.log('bye 1');
  console.log('bye 2');
  server.close(() => process.exit(0));
});
`;

async function patch(app: string, body: object): Promise<string> {
  const res = await p.api$(`/api/v1/apps/${app}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`PATCH ${app}: ${res.status} ${await res.text()}`);
  return ((await (await p.api$(`/api/v1/apps/${app}/deploys`)).json()) as { items: Array<{ id: string }> }).items[0]!
    .id;
}

async function rollback(app: string, version: number): Promise<string> {
  const res = await p.api$(`/api/v1/apps/${app}/rollback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ version }),
  });
  if (res.status !== 202) throw new Error(`rollback ${app}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** Starts a deploy (attempt 1, 2, 3) until one succeeds; returns the deploy logs of every attempt. */
async function untilSucceeded(app: string, start: (attempt: number) => Promise<string>): Promise<Attempts> {
  const logs: string[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    const { deploy, log } = await deployEnded(p, app, await start(attempt), 600_000);
    if (deploy.status === 'succeeded') return { succeeded: log, failed: logs };
    logs.push(log);
  }
  throw new Error(`${app}: 3 deploys failed in a row:\n${logs.join('\n---\n')}`);
}

interface Attempts {
  succeeded: string;
  failed: string[];
}

const bundle = () => tgzOf({ 'sidecar.json': JSON.stringify({ start: 'node server.js' }), 'server.js': server });

/** The pods a deploy log says were started (their `runtime` container ran the app). */
const podsStarted = (log: string) => [...log.matchAll(/^pod (\S+): runtime started/gm)].map((m) => m[1]!);

/** An app's life after its first deploy: redeploy with new config, (every other app) roll back to v1, scale to zero. */
async function lifecycle(app: string, i: number): Promise<Attempts[]> {
  const steps = [await untilSucceeded(app, (n) => patch(app, { env: { ROUND: `2-${n}` } }))];
  if (i % 2 === 0) steps.push(await untilSucceeded(app, () => rollback(app, 1)));
  steps.push(await untilSucceeded(app, () => patch(app, { replicas: 0 })));
  return steps;
}

interface LogItem {
  pod: string;
  container: string;
  stream: 'stdout' | 'stderr' | 'file';
  line: string;
}

describe('logs under load', () => {
  it(`${APPS} apps redeployed, rolled back and scaled to zero at once: every line of every pod arrives`, async () => {
    const apps = Array.from({ length: APPS }, (_, i) => `load-${String(i + 1).padStart(2, '0')}`);
    // All of them running first: the load the rollouts below run under.
    const first = await Promise.all(
      apps.map(async (app) => {
        await createApp(p, app);
        return untilSucceeded(app, async () => upload(p, app, await bundle()));
      }),
    );
    const started = Date.now();
    const later = await Promise.all(apps.map((app, i) => lifecycle(app, i)));
    const rolloutsMs = Date.now() - started;

    // No waiting: a deploy ends only after its old pods' output was stored.
    const missing: string[] = [];
    let pods = 0;
    let lines = 0;
    for (const [i, app] of apps.entries()) {
      const steps = [first[i]!, ...later[i]!];
      const res = await p.api$(`/api/v1/apps/${app}/logs?tail=10000&container=runtime`, {
        headers: { accept: 'application/json' },
      });
      const items = ((await res.json()) as { items: LogItem[] }).items;
      // Order holds within a stream, not across: Docker (like the kubelet) reads a container's stdout and
      // stderr through two pipes, so under load the runtime's stderr line "process exited" can be stamped
      // before the app's last stdout lines. Each stream is judged on its own, in order.
      const byPod = new Map<string, { stdout: string[]; stderr: string[] }>();
      for (const it of items) {
        const seen = byPod.get(it.pod) ?? { stdout: [], stderr: [] };
        if (it.stream === 'stdout' || it.stream === 'stderr') seen[it.stream].push(it.line);
        byPod.set(it.pod, seen);
      }
      for (const pod of steps.flatMap((s) => podsStarted(s.succeeded))) {
        pods++;
        const said = byPod.get(pod) ?? { stdout: [], stderr: [] };
        lines += said.stdout.length + said.stderr.length;
        // The app's lines on stdout, its SIGTERM handler's last; the runtime's own on stderr, the last one
        // written after the app exited.
        const ok =
          said.stdout.length === 3 &&
          said.stdout[0]!.startsWith('hello from round ') &&
          said.stdout[1] === 'bye 1' &&
          said.stdout[2] === 'bye 2' &&
          said.stderr.length === 2 &&
          said.stderr[0]!.startsWith('runtime: running ') &&
          said.stderr[1] === 'runtime: process exited with code 0';
        if (!ok) missing.push(`${app} ${pod}: ${JSON.stringify(said)}`);
      }
    }
    const all = [...first, ...later.flat()];
    const failedRollouts = all.reduce((n, s) => n + s.failed.length, 0);
    recordFault({
      fault: `load: ${APPS} apps running, all redeployed, half rolled back, all scaled to zero at once (logs)`,
      usersSee:
        missing.length === 0
          ? 'every line, including those printed in SIGTERM handlers'
          : `${missing.length} pods with missing lines`,
      appRequests: { sent: 0, failed: 0, failedAfterRecovery: 0 },
      apiRequests: { sent: 0, failed: 0, failedAfterRecovery: 0 },
      dataLost: `${missing.length} of ${pods} pods missing lines (${lines} lines checked)`,
      recoverMs: null,
      details: { deploys: all.length + failedRollouts, failedRolloutsRetried: failedRollouts, rolloutsMs },
    });
    expect(missing).toEqual([]);
    // Every app: its first pod and its redeploy's, and for every other app the rollback's.
    expect(pods).toBe(APPS * 2 + APPS / 2);
  }, 900_000);
});
