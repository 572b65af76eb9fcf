import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { PlatformCa } from '@sidecar/store';
import { request } from './testing/clients.js';
import { startTestRouter, type TestRouter } from './testing/harness.js';
import { startTlsSidecar } from './testing/tls-sidecar.js';

// Forwarding headers on both paths: HTTP through HAProxy, HTTPS passed through to the real TLS sidecar.
let t: TestRouter;
let trusting: TestRouter;
let ca: PlatformCa;
const dir = mkdtempSync(join(tmpdir(), 'fwd-ca-'));
const stops: (() => Promise<void>)[] = [];
const spoofed = {
  'x-forwarded-for': '6.6.6.6',
  'x-forwarded-proto': 'gopher',
  'x-forwarded-host': 'evil.example',
  forwarded: 'for=6.6.6.6;proto=gopher',
  'x-real-ip': '6.6.6.6',
};
type Seen = Record<string, string>;

beforeAll(async () => {
  t = await startTestRouter(inject('redisUrl'));
  trusting = await startTestRouter(inject('redisUrl'), { SIDECAR_ROUTER_TRUSTED_PROXIES: '127.0.0.0/8' });
  const up = await t.upstream((req, res) => res.end(JSON.stringify(req.headers)));
  new WebSocketServer({ server: up.server }).on('connection', (ws) => ws.on('message', (m) => ws.send(`tls ${m}`)));
  ca = await PlatformCa.load(dir);
  const material = await ca.issue('web.localhost');
  const sidecar = await startTlsSidecar({
    cert: material.cert,
    key: material.key,
    upstreamPort: (up.server.address() as AddressInfo).port,
  });
  stops.push(sidecar.stop);
  for (const r of [t, trusting]) await r.route('web', [{ ...up, tlsAddress: sidecar.address }]);
});
afterAll(async () => {
  for (const s of stops) await s();
  await Promise.all([t.close(), trusting.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const overHttps = (headers: Record<string, string>) =>
  new Promise<Seen>((resolve, reject) => {
    https
      .get(
        {
          host: '127.0.0.1',
          port: t.tlsPort,
          servername: 'web.localhost',
          ca: ca.certPem,
          headers: { host: 'web.localhost', ...headers },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(JSON.parse(body) as Seen));
        },
      )
      .on('error', reject);
  });

describe('forwarding headers', () => {
  it('over HTTP: replaces what the client claimed with what the router saw', async () => {
    const seen = JSON.parse((await request(t.port, 'web.localhost', { headers: spoofed })).body) as Seen;
    expect(seen).toMatchObject({
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'web.localhost',
      forwarded: 'for=127.0.0.1;host="web.localhost";proto=http',
      'x-real-ip': '127.0.0.1',
    });
    expect(seen['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('over HTTP from a trusted proxy: keeps its values and appends the peer', async () => {
    const seen = JSON.parse((await request(trusting.port, 'web.localhost', { headers: spoofed })).body) as Seen;
    expect(seen).toMatchObject({
      'x-forwarded-for': '6.6.6.6, 127.0.0.1',
      'x-forwarded-proto': 'gopher',
      'x-forwarded-host': 'evil.example',
      'x-real-ip': '6.6.6.6',
    });
    expect(seen.forwarded).toBe('for=6.6.6.6;proto=gopher, for=127.0.0.1;host="web.localhost";proto=http');
  });

  it('over HTTPS: the TLS sidecar sets them from the client the router saw', async () => {
    const seen = await overHttps({ ...spoofed, 'x-request-id': 'req-42' });
    expect(seen).toMatchObject({
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'web.localhost',
      forwarded: 'for=127.0.0.1;host="web.localhost";proto=https',
      'x-real-ip': '127.0.0.1',
      'x-request-id': 'req-42',
    });
  });

  it('proxies WebSockets over HTTPS through the TLS sidecar', async () => {
    // `servername` reaches https.request, which ws calls: the SNI the router routes by.
    const ws = new WebSocket(`wss://127.0.0.1:${t.tlsPort}/socket`, {
      headers: { host: 'web.localhost' },
      servername: 'web.localhost',
      ca: ca.certPem,
    } as WebSocket.ClientOptions);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const reply = new Promise<string>((resolve) => ws.once('message', (m: Buffer) => resolve(m.toString())));
    ws.send('hello');
    expect(await reply).toBe('tls hello');
    ws.close();
  });
});
