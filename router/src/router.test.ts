import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { connectRedis, connectSubscriber, createStores } from '@sidecar/store';
import { appFromHost, createProxy } from './proxy.js';
import { RouteCache } from './route-cache.js';

// The router against a real Redis route table and real upstream HTTP servers.
const url = inject('redisUrl');
const redis = connectRedis(url);
const subscriber = connectSubscriber(url);
const stores = createStores(redis, `t-${randomUUID().slice(0, 8)}:`);
const cache = new RouteCache(stores.routes, subscriber, stores.keys);
const servers: http.Server[] = [];
let port = 0;

async function upstream(name: string): Promise<{ address: string; server: http.Server }> {
  const server = http.createServer((req, res) => res.end(`${name} ${req.headers['x-forwarded-host']}`));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function get(host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

beforeAll(async () => {
  await cache.start();
  const proxy = http.createServer(createProxy({ routes: cache, domain: 'localhost' }));
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  servers.push(proxy);
  port = (proxy.address() as AddressInfo).port;
});
afterAll(async () => {
  await cache.close();
  for (const s of servers) s.close();
  await stores.close();
  await Promise.all([redis.quit(), subscriber.quit()]);
});

describe('router', () => {
  it('maps Host names under the apps domain to app names', () => {
    expect(appFromHost('hello.localhost:8080', 'localhost')).toBe('hello');
    expect(appFromHost('HELLO.LOCALHOST', 'localhost')).toBe('hello');
    expect(appFromHost('localhost', 'localhost')).toBeUndefined();
    expect(appFromHost('a.b.localhost', 'localhost')).toBeUndefined();
  });

  it('answers an unknown app with a clear 404', async () => {
    const res = await get('nobody.localhost');
    expect(res.status).toBe(404);
    expect(res.body).toMatch(/no app named "nobody"/);
  });

  it('answers 503 while an app has no ready pod', async () => {
    await stores.routes.set('empty', []);
    const res = await get('empty.localhost');
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/no ready pod/);
  });

  it('routes to the app once set() resolves, balancing across pods', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    await stores.routes.set('web', [
      { pod: 'web-a', address: a.address },
      { pod: 'web-b', address: b.address },
    ]);
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add((await get('web.localhost')).body);
    expect(bodies).toEqual(new Set(['a web.localhost', 'b web.localhost']));
  });

  it('switches traffic as soon as set() resolves (the router acknowledged the version)', async () => {
    const v1 = await upstream('v1');
    const v2 = await upstream('v2');
    await stores.routes.set('switch', [{ pod: 'p1', address: v1.address }]);
    expect((await get('switch.localhost')).body).toMatch(/^v1/);
    await stores.routes.set('switch', [{ pod: 'p2', address: v2.address }]);
    expect((await get('switch.localhost')).body).toMatch(/^v2/);
  });

  it('retries a refused connection on another pod instead of failing the request', async () => {
    const live = await upstream('live');
    const dead = await upstream('dead');
    await new Promise((r) => dead.server.close(r));
    await stores.routes.set('flaky', [
      { pod: 'dead', address: dead.address },
      { pod: 'live', address: live.address },
    ]);
    for (let i = 0; i < 4; i++)
      expect(await get('flaky.localhost')).toEqual({ status: 200, body: 'live flaky.localhost' });
  });

  it('stops routing an app that is removed', async () => {
    const s = await upstream('x');
    await stores.routes.set('gone', [{ pod: 'x', address: s.address }]);
    await stores.routes.remove('gone');
    expect((await get('gone.localhost')).status).toBe(404);
  });
});
