import { LOADER_PORT } from '@sidecar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf, zipOf } from '../support/bundles.js';
import { createApp, deploy, trafficLoop, waitForDeploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { startupProbeOf } from '../support/pods.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';

// The core user story, end to end, driving only HTTP against the platform as `npm start` runs it.
let p: RunningPlatform;
beforeAll(async () => {
  p = await startPlatform();
}, 180_000);
afterAll(async () => {
  await stopPlatform(p);
}, 120_000);

const handlerV = (v: string) =>
  `module.exports = (req, res) => { res.end('plain ${v} ' + req.method + ' ' + req.url); };\n`;

describe('deploy a bundle end to end', () => {
  it('serves a plain (req, res) handler through the router', async () => {
    await createApp(p, 'plain');
    const { deploy: d, log } = await deploy(p, 'plain', await tgzOf({ 'index.js': handlerV('v1') }, { wrap: 'plain' }));
    expect(d.status, log).toBe('succeeded');
    expect(d.release).toBe(1);
    expect(log).toMatch(/detected/i);
    expect(await p.get('plain', '/hi?x=1')).toEqual({ status: 200, body: 'plain v1 GET /hi?x=1' });
    const app = await (await p.api$('/api/v1/apps/plain')).json();
    expect(app).toMatchObject({ currentRelease: 1, status: 'running' });
    const pods = await (await p.api$('/api/v1/apps/plain/pods')).json();
    expect(pods.items).toHaveLength(1);
    expect(pods.items[0]).toMatchObject({ phase: 'Running', ready: true, release: 1 });
    // The log shipper (a platform sidecar, on by default) is declared before the logic sidecar.
    expect(pods.items[0].initContainerStatuses.map((s: { name: string }) => s.name)).toEqual(['logs', 'app']);
    expect(pods.items[0].initContainerStatuses[1]).toMatchObject({ name: 'app', sidecar: true, started: true });
    // That pod started while the logic image was built, its logic container waiting for the image as for a
    // pull (Pulling only when it was due before the build had made the image).
    expect(/pod (\S+): starting while the image builds/.exec(log)?.[1], log).toBe(pods.items[0].name);
    const appEvents = (pods.items[0].events as { container: string; reason: string }[])
      .filter((e) => e.container === 'app' && e.reason !== 'Pulling')
      .map((e) => e.reason);
    expect(appEvents.slice(0, 3)).toEqual(['Pulled', 'Created', 'Started']);
    // Its startup probe connects to the loader (the worker read the logic base's loader port), no exec.
    expect(await startupProbeOf(pods.items[0].name, 'app')).toMatchObject({ tcpSocket: { port: LOADER_PORT } });
  });

  it('installs an Express dependency at build time and serves the Express app', async () => {
    await createApp(p, 'express');
    const bundle = await tgzOf({
      'package.json': JSON.stringify({ name: 'x', main: 'app.js', dependencies: { express: '^4.21.0' } }),
      'app.js':
        "const express = require('express'); const app = express(); app.get('/', (req, res) => res.json({ hello: 'express' })); module.exports = app;\n",
    });
    const { deploy: d, log } = await deploy(p, 'express', bundle);
    expect(d.status, log).toBe('succeeded');
    expect(log).toMatch(/npm/);
    const res = await p.get('express');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ hello: 'express' });
  }, 150_000); // an npm install from the registry: over a minute when the suite loads the machine

  it('serves a Web-standard fetch handler', async () => {
    await createApp(p, 'fetchy');
    const bundle = await zipOf({
      'index.mjs':
        "export default { async fetch(req) { const u = new URL(req.url); return new Response('fetch says ' + u.pathname, { headers: { 'x-kind': 'fetch' } }); } };\n",
    });
    const { deploy: d, log } = await deploy(p, 'fetchy', bundle, 'application/zip');
    expect(d.status, log).toBe('succeeded');
    expect(await p.get('fetchy', '/path')).toEqual({ status: 200, body: 'fetch says /path' });
  });

  it('serves a static site', async () => {
    await createApp(p, 'site');
    const { deploy: d, log } = await deploy(
      p,
      'site',
      await tgzOf({ 'index.html': '<h1>static site</h1>', 'css/site.css': 'h1{}' }),
    );
    expect(d.status, log).toBe('succeeded');
    expect(await p.get('site')).toEqual({ status: 200, body: '<h1>static site</h1>' });
    expect((await p.get('site', '/css/site.css')).body).toBe('h1{}');
    expect((await p.get('site', '/nope.html')).status).toBe(404);
  });

  it('redeploys with no failed request in between and ends serving the new version', async () => {
    const traffic = trafficLoop(p, 'plain', { concurrency: 4 });
    const { deploy: d, log } = await deploy(p, 'plain', await tgzOf({ 'index.js': handlerV('v2') }));
    // Keep sending a little after the switch, so requests in flight to the old pod are covered too.
    await traffic.seen(/^plain v2/, 20);
    await traffic.stop();
    expect(d.status, log).toBe('succeeded');
    expect(d.release).toBe(2);
    expect(traffic.failures).toEqual([]);
    expect(traffic.bodies.length).toBeGreaterThan(20);
    expect(traffic.bodies.at(-1)).toMatch(/^plain v2/);
    expect(traffic.bodies.some((b) => b.startsWith('plain v1'))).toBe(true);
    expect(traffic.bodies.some((b) => b.startsWith('plain v2 POST'))).toBe(true);
    const pods = await (await p.api$('/api/v1/apps/plain/pods')).json();
    // v1's pod is kept frozen for a rollback (docs/architecture.md); only v2's serves.
    const serving = pods.items.filter((x: { suspended?: unknown }) => !x.suspended);
    expect(serving.map((x: { release: number }) => x.release)).toEqual([2]);
  });
});

describe('app logs', () => {
  it('keeps runtime and sidecar output across redeploys, filters by container, and follows live', async () => {
    await createApp(p, 'talker');
    const talker = (v: string) =>
      tgzOf({
        'index.js': `console.log('booted ${v}'); module.exports = (q, s) => { console.log('hit ${v} ' + q.url); s.end('ok'); };`,
      });
    expect((await deploy(p, 'talker', await talker('v1'))).deploy.status).toBe('succeeded');
    await p.get('talker', '/one');
    expect((await deploy(p, 'talker', await talker('v2'))).deploy.status).toBe('succeeded');

    // Follow first, then cause a line: it must arrive on the open response.
    const ctrl = new AbortController();
    const res = await p.api$('/api/v1/apps/talker/logs?follow=true&tail=0&container=runtime', { signal: ctrl.signal });
    const reader = res.body!.getReader();
    await p.get('talker', '/live');
    let live = '';
    const decoder = new TextDecoder();
    // Until the line arrives or the response ends (a bounded read: an ended stream fails the test, never spins).
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      live += decoder.decode(chunk.value, { stream: true });
      if (live.includes('hit v2 /live')) break;
    }
    expect(live).toContain('hit v2 /live');
    ctrl.abort();

    const all = async () => await (await p.api$('/api/v1/apps/talker/logs?tail=1000')).text();
    const text = await all();
    expect(text).toMatch(/booted v1/); // the v1 pod is gone; its lines are not
    expect(text).toMatch(/hit v1 \/one/);
    expect(text).toMatch(/booted v2/);
    expect(text).toMatch(/ talker-v1-\w+\/app loader: published/); // the logic sidecar's own output
    const runtimeOnly = await (await p.api$('/api/v1/apps/talker/logs?tail=1000&container=runtime')).text();
    expect(runtimeOnly).not.toMatch(/\/app /);
    expect(runtimeOnly).toMatch(/\/runtime /);
    const v1Only = await (await p.api$('/api/v1/apps/talker/logs?tail=1000&release=1')).text();
    expect(v1Only).toMatch(/booted v1/);
    expect(v1Only).not.toMatch(/talker-v2-|(booted|hit) v2/); // (not just "v2": a pod's random suffix may contain it)
    const future = new Date(Date.now() + 60_000).toISOString();
    expect(await (await p.api$(`/api/v1/apps/talker/logs?since=${future}`)).text()).toBe('');
    expect(await (await p.api$('/api/v1/apps/talker/logs?since=1h')).text()).toMatch(/booted v1/);
    expect((await p.api$('/api/v1/apps/talker/logs?since=yesterday')).status).toBe(400);
  });
});

describe('app logs across shutdowns', () => {
  it('keeps every line, including what the app prints in its SIGTERM handler, after a redeploy and after scaling to zero', async () => {
    await createApp(p, 'byebye');
    const app = (v: string) =>
      tgzOf({
        'sidecar.json': JSON.stringify({ start: 'node server.js' }),
        'server.js': `const http = require('node:http');
let n = 0;
const server = http.createServer((q, s) => { console.log('request ${v} ' + ++n); s.end('${v}'); }).listen(process.env.PORT);
process.on('SIGTERM', () => { console.log('bye from ${v} after ' + n + ' requests'); server.close(() => process.exit(0)); });
`,
      });
    expect((await deploy(p, 'byebye', await app('v1'))).deploy.status).toBe('succeeded');
    for (let i = 0; i < 3; i++) expect((await p.get('byebye')).body).toBe('v1');
    expect((await deploy(p, 'byebye', await app('v2'))).deploy.status).toBe('succeeded');
    expect((await p.get('byebye')).body).toBe('v2');
    const scaled = await p.api$('/api/v1/apps/byebye', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ replicas: 0 }),
    });
    expect(scaled.status).toBe(200);
    const latest = ((await (await p.api$('/api/v1/apps/byebye/deploys')).json()).items[0] as { id: string }).id;
    expect((await waitForDeploy(p, 'byebye', latest)).deploy.status).toBe('succeeded');
    expect((await p.get('byebye')).status).toBe(503); // no pods left

    // The collector writes a container's last lines when its output ends; wait (bounded) for them.
    const deadline = Date.now() + 20_000;
    let text = '';
    while (Date.now() < deadline) {
      text = await (await p.api$('/api/v1/apps/byebye/logs?tail=1000&container=runtime')).text();
      if (text.includes('bye from v2')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const line of [
      'request v1 1',
      'request v1 3',
      'bye from v1 after 3 requests',
      'request v2 1',
      'bye from v2 after 1 requests',
    ]) {
      expect(text).toContain(line);
    }
  });
});

describe('config and rollback without rebuilding', () => {
  const latestDeploy = async (app: string) =>
    (await (await p.api$(`/api/v1/apps/${app}/deploys`)).json()).items[0] as { id: string; source: string };

  it('rolls out an env change as a new release of the same image, then rolls back to v1', async () => {
    await createApp(p, 'cfg', { env: { GREETING: 'hello' }, secrets: { TOKEN: 'not-shown' } });
    const v1 = await deploy(
      p,
      'cfg',
      await tgzOf({
        'index.js': "module.exports = (q, s) => s.end(process.env.GREETING + ' ' + process.env.TOKEN.length);",
      }),
    );
    expect(v1.deploy.status, v1.log).toBe('succeeded');
    expect(await p.get('cfg')).toEqual({ status: 200, body: 'hello 9' });

    const patched = await p.api$('/api/v1/apps/cfg', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ env: { GREETING: 'bonjour' } }),
    });
    expect(patched.status).toBe(200);
    const change = await latestDeploy('cfg');
    expect(change.source).toBe('api');
    const v2 = await waitForDeploy(p, 'cfg', change.id);
    expect(v2.deploy.status, v2.log).toBe('succeeded');
    expect(v2.log).toMatch(/reuses the logic image of v1, no rebuild/);
    expect(await p.get('cfg')).toEqual({ status: 200, body: 'bonjour 9' });

    const rb = await p.api$('/api/v1/apps/cfg/rollback', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ version: 1 }),
    });
    expect(rb.status).toBe(202);
    const v3 = await waitForDeploy(p, 'cfg', ((await rb.json()) as { id: string }).id);
    expect(v3.deploy).toMatchObject({ status: 'succeeded', release: 3 });
    expect(await p.get('cfg')).toEqual({ status: 200, body: 'hello 9' });

    const releases = (await (await p.api$('/api/v1/apps/cfg/releases')).json()).items;
    expect(releases.map((r: { version: number; current: boolean }) => [r.version, r.current])).toEqual([
      [3, true],
      [2, false],
      [1, false],
    ]);
    expect(releases[0].imageDigest).toBe(releases[2].imageDigest);
    // Each release pins the images it ran and records the settings it was made with.
    for (const r of releases) {
      expect(r.runtimeImageDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(r.settings).toEqual({ replicas: 1, resources: { memory: '256Mi', cpu: '500m' } });
    }
    expect(releases[1].env).toEqual({ GREETING: 'bonjour' });
    expect(JSON.stringify(releases)).not.toContain('not-shown');
  });

  it('refuses a rollback to a release that does not exist', async () => {
    const res = await p.api$('/api/v1/apps/cfg/rollback', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ version: 99 }),
    });
    expect(res.status).toBe(404);
    expect((await res.json()).code).toBe('release_not_found');
  });
});
