/**
 * The TLS sidecar's behaviour: the host's HAProxy (the binary its image copies) with the image's
 * configuration, in front of a real HTTP server, reached over real TLS with and without the PROXY
 * v2 header the router sends.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSigned } from '../../../test/support/certs.js';
import { startTlsSidecar as startTlsTerminator, type TlsSidecar } from '../../../test/support/tls-sidecar.js';

const material = selfSigned('web.localhost');
let upstream: http.Server;
let sidecar: TlsSidecar;
/** Bodies the upstream holds open until the test releases them (streaming and drain tests). */
const held = new Map<string, () => void>();
/** The upstream's upgraded connections: the HTTP server no longer tracks them. */
const upgraded = new Set<net.Socket>();

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    if (req.url === '/echo') {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => ((bytes += c.length), hash.update(c)));
      req.on('end', () => res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') })));
      return;
    }
    if (req.url?.startsWith('/hold/')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first;');
      held.set(req.url.slice('/hold/'.length), () => res.end('last'));
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.headers));
  });
  // Upgrades: a WebSocket handshake's 101, then every byte echoed back in upper case.
  upstream.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
    );
    upgraded.add(socket);
    socket.on('data', (b: Buffer) => socket.write(b.toString().toUpperCase()));
    socket.on('end', () => socket.end());
    socket.on('close', () => upgraded.delete(socket));
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  sidecar = await startTlsTerminator({ ...material, upstreamPort: (upstream.address() as AddressInfo).port });
});
afterAll(async () => {
  await sidecar?.stop();
  upstream?.closeAllConnections();
  for (const s of upgraded) s.destroy();
  await new Promise((r) => upstream?.close(r));
});

/** A verified TLS connection to the sidecar, optionally after a PROXY v2 header as the router sends it. */
function connect(port: number, proxy?: Buffer): tls.TLSSocket {
  const raw = net.connect({ host: '127.0.0.1', port });
  if (proxy) raw.write(proxy);
  // The self-signed certificate names its host in the CN only: the chain is what is checked here.
  return tls.connect({
    socket: raw,
    ca: material.cert,
    servername: 'web.localhost',
    checkServerIdentity: () => undefined,
  });
}

/** A PROXY protocol v2 header (haproxy.org proxy-protocol.txt §2.2) as the router sends it: PROXY command, TCP. */
function proxyV2Header(source: { address: string; port: number }, destination: { address: string; port: number }) {
  const v4 = net.isIPv4(source.address);
  const address = (a: string) =>
    v4 ? Buffer.from(a.split('.').map(Number)) : Buffer.from(expandIpv6(a).replaceAll(':', ''), 'hex');
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(source.port, 0);
  ports.writeUInt16BE(destination.port, 2);
  const body = Buffer.concat([address(source.address), address(destination.address), ports]);
  const head = Buffer.from([0x21, v4 ? 0x11 : 0x21, 0, 0]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), head, body]);
}
/** `2001:db8::7` → eight groups of four hex digits. */
function expandIpv6(a: string): string {
  const [left = '', right = ''] = a.split('::');
  const l = left ? left.split(':') : [];
  const r = right ? right.split(':') : [];
  return [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r].map((g) => g.padStart(4, '0')).join(':');
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(o: {
  port?: number;
  proxy?: Buffer;
  method?: string;
  path?: string;
  headers?: http.OutgoingHttpHeaders | string[];
  body?: Buffer;
  onFirstChunk?: () => void;
}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        method: o.method ?? 'GET',
        path: o.path ?? '/',
        headers: o.headers ?? { host: 'web.localhost' },
        createConnection: () => connect(o.port ?? sidecar.port, o.proxy),
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          if (body === '') o.onFirstChunk?.();
          body += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const UPGRADE =
  'GET /socket HTTP/1.1\r\nhost: web.localhost\r\nconnection: upgrade\r\nupgrade: websocket\r\n' +
  'sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

const seen = async (o: Parameters<typeof request>[0]) => JSON.parse((await request(o)).body) as Record<string, string>;

const spoofed = {
  host: 'web.localhost',
  'x-forwarded-for': '6.6.6.6',
  'x-forwarded-proto': 'gopher',
  'x-forwarded-host': 'evil.example',
  forwarded: 'for=6.6.6.6;proto=gopher',
  'x-real-ip': '6.6.6.6',
};

describe('the TLS sidecar (HAProxy)', () => {
  it('without a PROXY header: the TCP peer is the client; what the client claimed is replaced', async () => {
    const headers = await seen({ headers: spoofed });
    expect(headers).toMatchObject({
      'x-forwarded-for': '127.0.0.1',
      'x-real-ip': '127.0.0.1',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'web.localhost',
      forwarded: 'for=127.0.0.1;host="web.localhost";proto=https',
    });
    expect(headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it("with the router's PROXY v2 header: the client is the header's source, IPv4 or IPv6", async () => {
    const v4 = proxyV2Header({ address: '203.0.113.7', port: 41000 }, { address: '10.0.0.2', port: 8443 });
    expect(await seen({ proxy: v4, headers: spoofed })).toMatchObject({
      'x-forwarded-for': '203.0.113.7',
      'x-real-ip': '203.0.113.7',
      forwarded: 'for=203.0.113.7;host="web.localhost";proto=https',
    });
    const v6 = proxyV2Header({ address: '2001:db8::7', port: 41000 }, { address: '2001:db8::2', port: 8443 });
    expect(await seen({ proxy: v6, headers: spoofed })).toMatchObject({
      'x-forwarded-for': '2001:db8::7',
      'x-real-ip': '2001:db8::7',
      forwarded: 'for="[2001:db8::7]";host="web.localhost";proto=https',
    });
  });

  it('keeps one plausible client request id, and replaces a malformed or repeated one', async () => {
    const id = (headers: http.OutgoingHttpHeaders | string[]) => seen({ headers }).then((h) => h['x-request-id']);
    expect(await id({ host: 'web.localhost', 'x-request-id': 'req-42:a/b+c=' })).toBe('req-42:a/b+c=');
    const uuid = /^[0-9a-f-]{36}$/;
    expect(await id({ host: 'web.localhost', 'x-request-id': 'two words' })).toMatch(uuid);
    expect(await id({ host: 'web.localhost', 'x-request-id': 'x'.repeat(201) })).toMatch(uuid);
    expect(await id(['host', 'web.localhost', 'x-request-id', 'one', 'x-request-id', 'two'])).toMatch(uuid);
  });

  it('streams bodies both ways: a 4 MiB upload arrives whole, a response arrives before it ends', async () => {
    const body = Buffer.alloc(4 * 2 ** 20, 'abcdefgh');
    const answer = await request({ method: 'POST', path: '/echo', body, headers: { host: 'web.localhost' } });
    expect(JSON.parse(answer.body)).toEqual({
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
    });
    // The upstream ends the response only once the client has read its first chunk through the sidecar.
    const streamed = await request({ path: '/hold/stream', onFirstChunk: () => held.get('stream')!() });
    expect(streamed).toMatchObject({ status: 200, body: 'first;last' });
  });

  it('pipes an upgraded connection (WebSocket handshake) both ways', async () => {
    const s = connect(sidecar.port);
    s.write(UPGRADE);
    let got = '';
    const upgraded = new Promise<void>((resolve) =>
      s.on('data', (b: Buffer) => {
        got += b.toString();
        if (got.includes('\r\n\r\n') && !got.includes('PING')) {
          s.write('ping over tls');
          got += 'PING?';
        }
        if (got.includes('PING OVER TLS')) resolve();
      }),
    );
    await upgraded;
    expect(got).toMatch(/^HTTP\/1\.1 101 /);
    s.destroy();
  });

  it('answers 502 problem+json when the app does not answer', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const lone = await startTlsTerminator({ ...material, upstreamPort: port });
    try {
      const answer = await request({ port: lone.port });
      expect(answer.status).toBe(502);
      expect(answer.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(answer.body)).toMatchObject({ status: 502, code: 'upstream_failed' });
    } finally {
      await lone.stop();
    }
  });

  it('prints nothing about requests or its key', async () => {
    await request({ path: '/secret-path' });
    expect(sidecar.stderr()).not.toContain('secret-path');
    expect(sidecar.stderr()).not.toContain('PRIVATE KEY');
    expect(sidecar.stderr()).not.toContain(material.key.split('\n')[1]!);
  });
});

describe('stopping (SIGUSR1, the image STOPSIGNAL)', () => {
  it('finishes a response in flight, refuses new connections, and exits 0', async () => {
    const own = await startTlsTerminator({ ...material, upstreamPort: (upstream.address() as AddressInfo).port });
    let firstChunk!: () => void;
    const reading = new Promise<void>((r) => (firstChunk = r));
    const answer = request({ port: own.port, path: '/hold/drain', onFirstChunk: firstChunk });
    await reading;
    const exited = own.stop('SIGUSR1');
    // Once it has stopped listening, a new connection is refused; the held response is still open.
    const refused = await new Promise<boolean>((resolve) => {
      const probe = () => {
        const s = net.connect({ host: '127.0.0.1', port: own.port });
        s.on('error', () => resolve(true));
        s.on('connect', () => {
          s.destroy();
          setImmediate(probe);
        });
      };
      probe();
    });
    expect(refused).toBe(true);
    held.get('drain')!();
    expect(await answer).toMatchObject({ status: 200, body: 'first;last' });
    expect(await exited).toEqual({ code: 0, signal: null });
  });

  it('closes an upgraded connection still open at the drain limit, then exits', async () => {
    const own = await startTlsTerminator({
      ...material,
      upstreamPort: (upstream.address() as AddressInfo).port,
      env: { SIDECAR_DRAIN_TIMEOUT_MS: '500' },
    });
    const s = connect(own.port);
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.on('error', () => undefined);
    s.write(UPGRADE);
    const head = await new Promise<string>((r) => s.once('data', (b: Buffer) => r(b.toString())));
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    const exited = await own.stop('SIGUSR1');
    await closed;
    expect(exited.signal).toBeNull();
  });
});
