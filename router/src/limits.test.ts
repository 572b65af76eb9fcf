import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { rawExchange, request, until } from './testing/clients.js';
import { startTestRouter, type TestRouter } from './testing/harness.js';
import { dataPlaneRss } from './testing/memory.js';

// Timeouts and limits through the real router, with a short client header timeout for this file.
let t: TestRouter;
const held: http.ServerResponse[] = [];

beforeAll(async () => {
  t = await startTestRouter(inject('redisUrl'), { SIDECAR_ROUTER_HEADER_TIMEOUT_MS: '1000' });
  const ok = await t.upstream((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => res.end(`got ${bytes}`));
  });
  // Answers nothing until the test releases it.
  const hang = await t.upstream((_req, res) => void held.push(res));
  await t.route('ok', [ok]);
  await t.route('hang', [hang]);
  await t.settings('hang', { timeoutSeconds: 1, maxConcurrent: 1, maxBodyMiB: 1 });
});
afterAll(async () => {
  for (const r of held) r.end();
  await t.close();
});

const problem = (body: string) => JSON.parse(body) as { status: number; code: string; requestId: string };

describe('timeouts and limits', () => {
  it('cuts a client that sends its headers too slowly while others are served', async () => {
    const slow = rawExchange(t.port, 'GET / HTTP/1.1\r\nHost: ok.localhost\r\n', () => false);
    const others = await Promise.all([1, 2, 3].map(() => request(t.port, 'ok.localhost')));
    expect(others.map((r) => r.status)).toEqual([200, 200, 200]);
    const { received, closed } = await slow;
    expect(closed).toBe(true);
    // HAProxy's own 408: no request exists yet to answer with problem+json.
    expect(received).toMatch(/^HTTP\/1\.1 408/);
  });

  it('answers 504 problem+json when the app does not answer in time', async () => {
    const res = await request(t.port, 'hang.localhost', { path: '/slow' });
    expect(res.status).toBe(504);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(problem(res.body)).toMatchObject({ status: 504, code: 'upstream_timeout' });
  });

  it('answers 413 for a body over the app limit, before it is sent', async () => {
    const { received } = await rawExchange(
      t.port,
      `POST /up HTTP/1.1\r\nHost: hang.localhost\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n`,
      (r) => r.includes('}'),
    );
    expect(received).toMatch(/^HTTP\/1\.1 413/);
    expect(received).toContain('application/problem+json');
    expect(received).toContain('"code":"body_too_large"');
  });

  it('answers 503 with Retry-After beyond the app concurrency limit', async () => {
    const first = request(t.port, 'hang.localhost', { path: '/held' });
    const before = held.length;
    await until(() => held.length > before, 'the first request to reach the app');
    const second = await request(t.port, 'hang.localhost', { path: '/second' });
    expect(second.status).toBe(503);
    expect(second.headers['retry-after']).toBe('1');
    expect(problem(second.body).code).toBe('app_overloaded');
    held.at(-1)!.end('released');
    expect((await first).body).toBe('released');
  });

  it('streams a 100 MB upload: the data plane grows by less than 50 MB', async () => {
    const before = await dataPlaneRss(t.router.haproxy.api);
    let peak = before;
    const sampler = setInterval(
      () => void dataPlaneRss(t.router.haproxy.api).then((v) => (peak = Math.max(peak, v))),
      25,
    );
    const total = 100 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 7);
    const answer = await new Promise<string>((resolve, reject) => {
      const req = http.request({
        port: t.port,
        host: '127.0.0.1',
        method: 'POST',
        path: '/upload',
        headers: { host: 'ok.localhost', 'content-length': total },
        agent: false,
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    clearInterval(sampler);
    expect(answer).toBe(`got ${total}`);
    expect(peak - before).toBeLessThan(50 * 1024 * 1024);
  });
});
