import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { createApp, deploy, trafficLoop, waitForDeploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { eventually, podOf } from '../support/pods.js';

// The `logs` platform sidecar (docs/sidecars.md): an app that writes its log to a file under
// /var/log/app, never to stdout, still has every line in GET /logs — live, across a crash of
// the shipper, and including what it writes while shutting down.
const docker = new Docker();
let p: RunningPlatform;
beforeAll(async () => {
  p = await startPlatform();
}, 180_000);
afterAll(async () => {
  await stopPlatform(p);
}, 120_000);

const APP = 'filelog';
/** A process-mode app with no logging library: one synchronous append per request, one more on SIGTERM. */
const fileLoggingApp = (v: string) =>
  tgzOf({
    'sidecar.json': JSON.stringify({ start: 'node server.js' }),
    'server.js': `const http = require('node:http');
const fs = require('node:fs');
const log = (line) => fs.appendFileSync('/var/log/app/app.log', line + '\\n');
let n = 0;
const server = http.createServer((q, s) => { log('${v} request ' + ++n); s.end('${v} ' + n); }).listen(process.env.PORT);
process.on('SIGTERM', () => { log('bye from ${v} after ' + n + ' requests'); server.close(() => process.exit(0)); });
`,
  });

const logText = async (query = '') =>
  (await p.api$(`/api/v1/apps/${APP}/logs?tail=10000&container=runtime${query}`)).text();
const patchApp = (body: unknown) =>
  p.api$(`/api/v1/apps/${APP}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** Every request number 1..n of version v is in the log as a line of app.log (at least once). */
function missingRequests(text: string, v: string, n: number): number[] {
  const seen = new Set(
    [...text.matchAll(new RegExp(`/runtime/app\\.log ${v} request (\\d+)$`, 'gm'))].map((m) => Number(m[1])),
  );
  return Array.from({ length: n }, (_, i) => i + 1).filter((i) => !seen.has(i));
}

describe('the log shipper', () => {
  beforeAll(async () => {
    await createApp(p, APP);
    const v1 = await deploy(p, APP, await fileLoggingApp('v1'));
    expect(v1.deploy.status, v1.log).toBe('succeeded');
  }, 120_000);

  it('is in every app pod by default, declared first', async () => {
    const pod = await podOf(p, APP);
    expect(pod.initContainerStatuses.map((s) => s.name)).toEqual(['logs', 'app']);
  });

  it('delivers a new line of a file to a follower live', async () => {
    const ctrl = new AbortController();
    const res = await p.api$(`/api/v1/apps/${APP}/logs?follow=true&tail=0&container=runtime`, { signal: ctrl.signal });
    const reader = res.body!.getReader();
    expect((await p.get(APP)).body).toBe('v1 1');
    let live = '';
    while (!/\/runtime\/app\.log v1 request 1\n/.test(live)) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`follow ended early: ${live}`);
      live += new TextDecoder().decode(chunk.value);
    }
    ctrl.abort();
    expect(live).toMatch(/^\S+Z filelog-v1-\w+\/runtime\/app\.log v1 request 1$/m);
  });

  it('restarts alone when killed: the app keeps serving, and no line is lost', async () => {
    const before = await podOf(p, APP);
    const traffic = trafficLoop(p, APP, { concurrency: 4, maxMs: 60_000 });
    await traffic.seen(/^v1 /, 20);
    await docker.getContainer(`${before.name}-logs`).kill();
    const after = await eventually('the log shipper restarted', async () => {
      const pod = await podOf(p, APP);
      const logs = pod.initContainerStatuses.find((s) => s.name === 'logs')!;
      return logs.restartCount >= 1 && logs.ready ? pod : undefined;
    });
    await traffic.seen(/^v1 /, 20);
    await traffic.stop();
    expect(traffic.failures).toEqual([]);
    expect(after.name).toBe(before.name);
    expect(after.containerStatuses[0]!.restartCount).toBe(0);
    expect(after.initContainerStatuses.find((s) => s.name === 'app')!.restartCount).toBe(0);
    // Every answer carried its request number: each of them is in the log, written before, during or after the kill.
    const answered = Math.max(...traffic.bodies.map((b) => Number(b.split(' ')[1])));
    await eventually('every request line shipped', async () =>
      missingRequests(await logText(), 'v1', answered).length === 0 ? true : undefined,
    ).catch(() => undefined); // the assertion below says which are missing
    expect(missingRequests(await logText(), 'v1', answered)).toEqual([]);
  }, 90_000);

  it('keeps every line, including the one written in the SIGTERM handler, after a redeploy and after scaling to zero', async () => {
    const v2 = await deploy(p, APP, await fileLoggingApp('v2'));
    expect(v2.deploy.status, v2.log).toBe('succeeded');
    for (let i = 1; i <= 3; i++) expect((await p.get(APP)).body).toBe(`v2 ${i}`);
    expect((await patchApp({ replicas: 0 })).status).toBe(200);
    const latest = ((await (await p.api$(`/api/v1/apps/${APP}/deploys`)).json()) as { items: Array<{ id: string }> })
      .items[0]!.id;
    expect((await waitForDeploy(p, APP, latest)).deploy.status).toBe('succeeded');
    expect((await p.get(APP)).status).toBe(503); // no pods left

    // The pods are gone; the node agent stores a container's last lines when its output ends.
    const text = await eventually("the v2 pod's SIGTERM line", async () => {
      const t = await logText();
      return t.includes('bye from v2') ? t : undefined;
    });
    const v1Bye = /\/runtime\/app\.log bye from v1 after (\d+) requests$/m.exec(text);
    expect(v1Bye, text.slice(-2000)).not.toBeNull();
    expect(missingRequests(text, 'v1', Number(v1Bye![1]))).toEqual([]);
    expect(text).toMatch(/\/runtime\/app\.log bye from v2 after 3 requests$/m);
    expect(missingRequests(text, 'v2', 3)).toEqual([]);
    // The shipper's own output is its container's, not the app's.
    expect(await (await p.api$(`/api/v1/apps/${APP}/logs?tail=100&container=logs`)).text()).toMatch(
      /\/logs log-shipper: following \/var\/log\/app/,
    );
  }, 180_000);
});
