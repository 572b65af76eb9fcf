import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Upstream } from '@sidecar/core';
import { createWaker } from './waker.js';

// The waker on its own: a real pod (an HTTP server), the router's routes as a map the test changes,
// and the wake requests it sends recorded. Through HAProxy it runs in test/e2e/scale-to-zero.test.ts.
const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const listen = async (s: http.Server) => {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
};

function routesTable() {
  const table = new Map<string, Upstream[]>();
  const listeners = new Set<() => void>();
  return {
    lookup: (app: string) => table.get(app),
    onApplied: (l: () => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    set(app: string, ups: Upstream[]) {
      table.set(app, ups);
      for (const l of listeners) l();
    },
  };
}

const send = (port: number, host: string, body?: string) =>
  new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: body ? 'POST' : 'GET', path: '/hello?x=1', headers: { host }, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });

describe('the waker', () => {
  it('holds requests, asks for one wake per app, and forwards each to the pod once the app has routes', async () => {
    const pod = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.setHeader('x-pod', 'yes').end(`${req.method} ${req.url} ${body}`));
    });
    const podPort = await listen(pod);
    const routes = routesTable();
    const wakes: string[] = [];
    const waker = createWaker({
      routes,
      domain: 'localhost',
      requestWake: (app) => {
        wakes.push(app);
        return Promise.resolve();
      },
      holdMs: 10_000,
      repeatMs: 60_000,
    });
    const port = await listen(waker.server);
    const held = [send(port, 'nap.localhost'), send(port, 'nap.localhost:8080', 'posted')];
    // Both are held: the wake was asked for once, nothing answered yet.
    await expect.poll(() => wakes).toEqual(['nap']);
    routes.set('nap', [{ pod: 'nap-v1-abcde', address: `127.0.0.1:${podPort}` }]);
    const answers = await Promise.all(held);
    expect(answers.map((a) => [a.status, a.body, a.headers['x-pod']])).toEqual([
      [200, 'GET /hello?x=1 ', 'yes'],
      [200, 'POST /hello?x=1 posted', 'yes'],
    ]);
    // Awake: the next request goes through at once, without a wake.
    expect((await send(port, 'nap.localhost')).status).toBe(200);
    expect(wakes).toEqual(['nap']);
  });

  it('answers 503 with Retry-After when the app does not wake in time, and 404 for a host of no app', async () => {
    const waker = createWaker({
      routes: routesTable(),
      domain: 'localhost',
      requestWake: () => Promise.resolve(),
      holdMs: 300,
    });
    const port = await listen(waker.server);
    const late = await send(port, 'nap.localhost');
    expect(late.status).toBe(503);
    expect(late.headers['retry-after']).toBe('1');
    expect(JSON.parse(late.body)).toMatchObject({ code: 'no_ready_pod' });
    expect((await send(port, 'example.com')).status).toBe(404);
  });
});

describe('the waker, when things go wrong', () => {
  it('sends nothing to the pod for a client that left while held, and ends a response the pod cut off', async () => {
    const seen: string[] = [];
    const pod = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      // Headers and part of a body, then the connection drops.
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setImmediate(() => res.socket?.destroy());
    });
    const podPort = await listen(pod);
    const routes = routesTable();
    let asked = 0;
    const waker = createWaker({
      routes,
      domain: 'localhost',
      requestWake: () => Promise.resolve(void asked++),
      holdMs: 10_000,
    });
    const port = await listen(waker.server);
    const connections = () =>
      new Promise<number>((resolve, reject) => waker.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));

    // A client that gives up while its request is held (the waker has it: it asked for a wake).
    const gone = http.request({
      host: '127.0.0.1',
      port,
      path: '/gone',
      headers: { host: 'nap.localhost' },
      agent: false,
    });
    gone.on('error', () => undefined);
    gone.end();
    await expect.poll(() => asked).toBe(1);
    gone.destroy();
    await expect.poll(connections).toBe(0);
    const cut = send(port, 'nap.localhost');
    await expect.poll(connections).toBe(1);
    routes.set('nap', [{ pod: 'nap-v1-abcde', address: `127.0.0.1:${podPort}` }]);
    // The cut-off answer fails for the client instead of hanging; the pod only ever saw the client that stayed.
    await expect(cut).rejects.toThrow();
    expect(seen).toEqual(['/hello?x=1']);
  });

  it('close() answers every held request at once', async () => {
    let asked = 0;
    const waker = createWaker({
      routes: routesTable(),
      domain: 'localhost',
      requestWake: () => Promise.resolve(void asked++),
      holdMs: 60_000,
    });
    const port = await listen(waker.server);
    const held = send(port, 'nap.localhost');
    await expect.poll(() => asked).toBe(1); // the request is held
    waker.close();
    await expect(held).resolves.toMatchObject({ status: 503 });
  });
});
