import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Upstream } from '@sidecar/core';
import { PlatformCa } from '@sidecar/store';
import { parseClientHello } from './sni.js';
import { startTlsSidecar } from './testing/tls-sidecar.js';
import { createTlsPassthrough } from './tls-passthrough.js';

/** The bytes a real Node client sends first: its ClientHello, captured by a plain TCP server. */
async function clientHello(servername?: string): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const got = new Promise<Buffer>((resolve) =>
    server.once('connection', (s) =>
      s.once('data', (b: Buffer) => {
        resolve(b);
        s.destroy();
      }),
    ),
  );
  const client = tls.connect({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    ...(servername ? { servername } : {}),
  });
  client.on('error', () => undefined);
  const hello = await got;
  client.destroy();
  server.close();
  return hello;
}

describe('parseClientHello', () => {
  it('reads the server name of a real ClientHello', async () => {
    expect(parseClientHello(await clientHello('Hello.LocalHost'))).toEqual({
      kind: 'hello',
      serverName: 'hello.localhost',
    });
  });

  it('asks for more bytes until the first record is complete, at any cut', async () => {
    const hello = await clientHello('web.localhost');
    for (const cut of [0, 1, 4, 5, 40, hello.length - 1])
      expect(parseClientHello(hello.subarray(0, cut))).toEqual({ kind: 'incomplete' });
  });

  it('reports a hello without SNI (e.g. a client connecting by IP)', async () => {
    expect(parseClientHello(await clientHello())).toEqual({ kind: 'hello', serverName: undefined });
  });

  it('rejects what is not TLS, and truncated or lying lengths without throwing', async () => {
    expect(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toEqual({ kind: 'not-tls' });
    const hello = Buffer.from(await clientHello('web.localhost'));
    const lying = Buffer.from(hello);
    lying.writeUInt16BE(0xffff, 5 + 4 + 2 + 32 + 1 + lying[5 + 4 + 2 + 32]!); // cipher suites length past the end
    expect(parseClientHello(lying)).toEqual({ kind: 'not-tls' });
    const notHello = Buffer.from(hello);
    notHello[5] = 0x02;
    expect(parseClientHello(notHello)).toEqual({ kind: 'not-tls' });
  });
});

describe('TLS passthrough', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sni-'));
  const closers: Array<() => void> = [];
  const routes = new Map<string, Upstream[]>();
  const picker = { lookup: (app: string) => routes.get(app) };
  let ca: PlatformCa;
  let port = 0;

  beforeAll(async () => {
    ca = await PlatformCa.load(dir);
    // The pod: the real TLS sidecar program in front of a plain HTTP server.
    const app = http.createServer((_req, res) => res.end('hello from the pod over TLS'));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const material = await ca.issue('web.localhost');
    const pod = await startTlsSidecar({ ...material, upstreamPort: (app.address() as AddressInfo).port });
    const refused = net.createServer();
    await new Promise<void>((r) => refused.listen(0, '127.0.0.1', r));
    const deadAddress = `127.0.0.1:${(refused.address() as AddressInfo).port}`;
    refused.close();
    routes.set('web', [
      { pod: 'dead', address: '127.0.0.1:1', tlsAddress: deadAddress },
      { pod: 'live', address: '127.0.0.1:1', tlsAddress: pod.address },
    ]);
    routes.set('plain', [{ pod: 'p', address: '127.0.0.1:1' }]);
    const router = createTlsPassthrough({ routes: picker, domain: 'localhost' });
    await new Promise<void>((r) => router.listen(0, '127.0.0.1', r));
    port = (router.address() as AddressInfo).port;
    closers.push(
      () => void pod.stop(),
      () => app.close(),
      () => router.close(),
    );
  });
  afterAll(() => {
    for (const c of closers) c();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Whether a verified TLS session was set up, and what the other end sent over it. */
  const talk = (servername: string) =>
    new Promise<{ secured: boolean; body: string }>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, servername, ca: ca.certPem });
      let secured = false;
      let body = '';
      s.on('secureConnect', () => {
        secured = s.authorized;
        s.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
      });
      s.on('data', (b: Buffer) => (body += b.toString()));
      s.on('error', () => undefined);
      // The answer's body: what follows the HTTP head.
      s.on('close', () => resolve({ secured, body: body.split('\r\n\r\n')[1] ?? '' }));
    });

  it("pipes to a pod of the app named by SNI, past a pod that refuses; the pod's certificate verifies against the CA", async () => {
    for (let i = 0; i < 4; i++)
      expect(await talk('web.localhost')).toEqual({ secured: true, body: 'hello from the pod over TLS' });
  });

  it('closes connections for unknown apps and apps without a TLS sidecar', async () => {
    expect(await talk('nobody.localhost')).toEqual({ secured: false, body: '' });
    expect(await talk('plain.localhost')).toEqual({ secured: false, body: '' });
  });
});
