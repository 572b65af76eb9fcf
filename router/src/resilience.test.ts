import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { freePort } from '../../test/support/global-setup.js';
import { request, until } from './testing/clients.js';
import { startTestRouter, type TestRouter } from './testing/harness.js';

describe('the router keeps serving', () => {
  let t: TestRouter;
  beforeAll(async () => {
    t = await startTestRouter(inject('redisUrl'));
  });
  afterAll(() => t.close());

  const serverState = async (app: string, pod: string) =>
    (await t.router.haproxy.api.stats()).find((r) => r.pxname === `app_${app}` && r.svname === pod)?.status;

  it('takes a pod that refuses connections out of rotation, and puts it back when it answers', async () => {
    const live = await t.upstream((_q, res) => res.end('live'), 'live');
    const flaky = await t.upstream((_q, res) => res.end('flaky'), 'flaky');
    const flakyPort = (flaky.server.address() as AddressInfo).port;
    await t.route('flaky', [live, flaky]);
    await new Promise((r) => flaky.server.close(r));
    // Every request succeeds meanwhile: a refused connection is retried on the other pod.
    for (let i = 0; i < 6; i++)
      expect(await request(t.port, 'flaky.localhost')).toMatchObject({ status: 200, body: 'live' });
    await until(
      async () => (await serverState('flaky', 'flaky'))?.startsWith('DOWN') ?? false,
      'the refusing pod to be marked down',
    );
    await new Promise<void>((r) => flaky.server.listen(flakyPort, '127.0.0.1', r));
    await until(async () => (await serverState('flaky', 'flaky')) === 'UP', 'the pod to be back in rotation');
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add((await request(t.port, 'flaky.localhost')).body);
    expect(bodies).toEqual(new Set(['live', 'flaky']));
  });

  it('keeps an upgraded connection to a pod that left rotation until the drain limit, then closes it', async () => {
    const wsPod = async (name: string) => {
      const up = await t.upstream((_q, res) => res.end(name), name);
      new WebSocketServer({ server: up.server }).on('connection', (ws) =>
        ws.on('message', (m) => ws.send(`${name} ${m}`)),
      );
      return up;
    };
    const old = await wsPod('old-pod');
    await t.route('chat', [old]);
    // Long enough for the switch, a request and a WebSocket round trip on a loaded machine before it ends.
    await t.settings('chat', { drainSeconds: 5 });
    const ws = new WebSocket(`ws://127.0.0.1:${t.port}/`, { headers: { host: 'chat.localhost' } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const next = () => new Promise<string>((resolve) => ws.once('message', (m: Buffer) => resolve(m.toString())));
    const errors: Error[] = [];
    ws.on('error', (e) => errors.push(e));
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));

    // A redeploy: the new pod in, the old one out (acknowledged by the router).
    const fresh = await wsPod('new-pod');
    await t.route('chat', [fresh]);
    expect((await request(t.port, 'chat.localhost')).body).toBe('new-pod');
    const reply = next();
    ws.send('still there?');
    expect(await reply).toBe('old-pod still there?');
    expect(await t.stores.routes.routersDraining()).toContain('old-pod');

    // The drain limit ends it; then no router reports the pod and the Docker target may stop it.
    await closed;
    await t.stores.routes.waitForDrain(['old-pod'], 10_000);
    expect(await t.stores.routes.routersDraining()).not.toContain('old-pod');
    expect(errors).toEqual([]);
  });
});

describe('a router crash', () => {
  it('leaves HAProxy serving; the restarted router adopts it and applies changes again', async () => {
    const first = await startTestRouter(inject('redisUrl'));
    const up = await first.upstream((_q, res) => res.end('before'));
    await first.route('kept', [up]);
    const pid = await first.router.haproxy.api.workerPid();
    await first.crash();
    let next: TestRouter | undefined;
    try {
      // No router: the data plane still serves.
      expect(await request(first.port, 'kept.localhost')).toMatchObject({ status: 200, body: 'before' });
      next = await startTestRouter(inject('redisUrl'), {}, first);
      expect(await request(next.port, 'kept.localhost')).toMatchObject({ status: 200, body: 'before' });
      up.server.closeAllConnections();
      up.server.close();
      const after = await next.upstream((_q, res) => res.end('after'));
      await next.route('kept', [after]);
      expect((await request(next.port, 'kept.localhost')).body).toBe('after');
      // The same HAProxy master, with a new worker from the adopting router's reload.
      expect(await next.router.haproxy.api.workerPid()).not.toBe(pid);
    } finally {
      // Whatever failed, no HAProxy is left behind.
      await (next ? next.close() : first.router.haproxy.stop());
    }
  });
});

describe('while Redis is unreachable', () => {
  let redis: ChildProcess;
  let t: TestRouter;
  let port = 0;
  const dir = mkdtempSync(join(tmpdir(), 'router-redis-'));
  const startRedis = async () => {
    redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve) =>
      redis.stdout!.on('data', (b: Buffer) => b.toString().includes('Ready to accept connections') && resolve()),
    );
  };
  const stopRedis = async () => {
    const exited = new Promise((r) => redis.once('exit', r));
    redis.kill('SIGKILL');
    await exited;
  };
  let up: { pod: string; address: string; server: http.Server };

  beforeAll(async () => {
    port = await freePort();
    await startRedis();
    t = await startTestRouter(`redis://127.0.0.1:${port}`);
    up = await t.upstream((_q, res) => res.end('served'));
    await t.route('steady', [up]);
  });
  afterAll(async () => {
    // A process ended by a signal has exitCode null too: a Redis the test killed must be started again,
    // or closing the router waits on it until the hook times out.
    if (redis.exitCode === null && redis.signalCode === null) await t.close();
    else {
      await startRedis();
      await t.close();
    }
    await stopRedis();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves from the last routing table, and follows changes again once Redis is back', async () => {
    await stopRedis();
    await until(() => t.router.cache.stale, 'the router to notice Redis is gone');
    for (let i = 0; i < 3; i++)
      expect(await request(t.port, 'steady.localhost')).toMatchObject({ status: 200, body: 'served' });
    await startRedis();
    await until(() => !t.router.cache.stale, 'the router to load from Redis again');
    const other = await t.upstream((_q, res) => res.end('moved'));
    await t.route('steady', [other]);
    expect((await request(t.port, 'steady.localhost')).body).toBe('moved');
  });
});
