import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { rawExchange, request } from './testing/clients.js';
import { startTestRouter, type TestRouter } from './testing/harness.js';

// HTTP/1.1 semantics through the real router: HAProxy driven by the router's control loop.
let t: TestRouter;
const host = 'web.localhost';

/** Answers with what it received: method, path, the headers asked for, and the body. */
const echo: http.RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.setHeader('x-seen-headers', JSON.stringify(req.headers));
    res.end(`${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
  });
};

beforeAll(async () => {
  t = await startTestRouter(inject('redisUrl'));
  const up = await t.upstream((req, res) => {
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      // The response ends only when the client has seen the first event and says so.
      req.socket.once('close', () => res.end());
      return;
    }
    echo(req, res);
  });
  const wss = new WebSocketServer({ server: up.server });
  wss.on('connection', (ws) => ws.on('message', (m, binary) => ws.send(binary ? m : `echo ${m.toString()}`)));
  await t.route('web', [up]);
});
afterAll(() => t.close());

describe('the router forwards HTTP/1.1 as sent', () => {
  it('forwards a GET body and serves the next request on the same connection correctly', async () => {
    const first = 'GET /first HTTP/1.1\r\nHost: web.localhost\r\nContent-Length: 5\r\n\r\nhello';
    const second = 'GET /second HTTP/1.1\r\nHost: web.localhost\r\n\r\n';
    const { received } = await rawExchange(
      t.port,
      first + second,
      (r) => (r.match(/HTTP\/1\.1 200/g) ?? []).length === 2 && r.endsWith('GET /second '),
    );
    expect(received).toContain('GET /first hello');
    expect(received).toMatch(/GET \/second $/);
    // Status lines only: a bare '400' also turns up in the random request ids (x-request-id) of the answers.
    expect(received.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200']);
  });

  it('forwards bodies on any method, and a chunked body streamed', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
      expect((await request(t.port, host, { method, path: '/m', body: 'payload' })).body).toBe(`${method} /m payload`);
    const chunked = [
      'POST /c HTTP/1.1\r\nHost: web.localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
      '3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n',
    ].join('');
    const { received } = await rawExchange(t.port, chunked, (r) => r.includes('POST /c abcdefg'));
    expect(received).toContain('POST /c abcdefg');
  });

  it('answers HEAD without a body, and Expect: 100-continue with a 100 first', async () => {
    const head = await rawExchange(
      t.port,
      'HEAD /h HTTP/1.1\r\nHost: web.localhost\r\n\r\nGET /after HTTP/1.1\r\nHost: web.localhost\r\n\r\n',
      (r) => r.includes('GET /after '),
    );
    expect(head.received).not.toContain('HEAD /h');
    const expectContinue = await new Promise<{ continued: boolean; body: string }>((resolve, reject) => {
      let continued = false;
      const req = http.request({
        port: t.port,
        host: '127.0.0.1',
        method: 'POST',
        path: '/e',
        headers: { host, expect: '100-continue', 'content-length': '4' },
        agent: false,
      });
      req.on('continue', () => {
        continued = true;
        req.end('body');
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ continued, body }));
      });
      req.on('error', reject);
    });
    expect(expectContinue).toEqual({ continued: true, body: 'POST /e body' });
  });

  it('removes hop-by-hop headers', async () => {
    const res = await request(t.port, host, {
      headers: {
        connection: 'keep-alive, x-secret',
        'x-secret': 'for the next hop only',
        'keep-alive': 'timeout=99',
        'proxy-connection': 'keep-alive',
      },
    });
    const seen = JSON.parse(res.headers['x-seen-headers'] as string) as Record<string, string>;
    expect(seen['keep-alive']).toBeUndefined();
    expect(seen['proxy-connection']).toBeUndefined();
    expect(seen['x-secret']).toBeUndefined();
    expect(res.headers['keep-alive']).toBeUndefined();
  });

  it('streams server-sent events: the first arrives before the response ends', async () => {
    const first = await new Promise<string>((resolve, reject) => {
      const req = http.get({ port: t.port, host: '127.0.0.1', path: '/events', headers: { host }, agent: false });
      req.on('response', (res) => {
        res.once('data', (c: Buffer) => {
          resolve(c.toString());
          // Only now may the response end: it had not ended when the event arrived.
          req.destroy();
        });
      });
      req.on('error', reject);
    });
    expect(first).toBe('data: first\n\n');
  });

  it('proxies WebSockets both ways (text and binary)', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${t.port}/socket`, { headers: { host } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const replies: string[] = [];
    const got = new Promise<void>((resolve) =>
      ws.on('message', (m: Buffer) => {
        replies.push(m.toString());
        if (replies.length === 2) resolve();
      }),
    );
    ws.send('hello');
    ws.send(Buffer.from('bin'), { binary: true });
    await got;
    ws.close();
    expect(replies).toEqual(['echo hello', 'bin']);
  });

  it('sends an idempotent request again when a reused connection closes unanswered; a POST is never sent twice', async () => {
    // Closes a connection, unanswered, when a second request arrives on it: a pod whose keep-alive timeout just hit.
    const served = new WeakMap<object, number>();
    let posts = 0;
    const closing = await t.upstream((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      if (n > 1) return void req.socket.destroy();
      if (req.method === 'POST') posts++;
      req.resume();
      req.on('end', () => res.end(`${req.method} ok`));
    });
    await t.route('closing', [closing]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const send = (method: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: t.port,
            method,
            path: '/',
            agent,
            headers: { host: 'closing.localhost', 'content-length': 2 },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end('{}');
      });
    // One client connection: its second request goes out on the server connection its first one used.
    const results: unknown[] = [];
    for (const m of ['GET', 'GET', 'PUT', 'POST']) results.push(await send(m).catch((e: Error) => e.message));
    // The POST is not repeated: its connection is closed unanswered, as the pod closed it (RFC 9112 §9.3.1).
    expect(results).toEqual([200, 200, 200, 'socket hang up']);
    expect(posts).toBe(0);
    agent.destroy();
  });

  it('sets X-Request-Id: keeps a well-formed one, replaces others', async () => {
    const seen = async (headers: http.OutgoingHttpHeaders) => {
      const res = await request(t.port, host, { headers });
      return (JSON.parse(res.headers['x-seen-headers'] as string) as Record<string, string>)['x-request-id'];
    };
    expect(await seen({ 'x-request-id': 'abc-123' })).toBe('abc-123');
    const made = await seen({ 'x-request-id': 'bad id with spaces' });
    expect(made).toMatch(/^[0-9a-f-]{36}$/);
    expect(await seen({})).toMatch(/^[0-9a-f-]{36}$/);
  });
});
