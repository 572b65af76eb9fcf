/**
 * The TLS terminator platform sidecar (`sidecar/tls-terminator`): HTTPS on SIDECAR_TLS_PORT (8443)
 * inside the pod, HTTP/1.1 to the runtime on 127.0.0.1:SIDECAR_TLS_UPSTREAM_PORT (8080). It is an
 * HTTP proxy, not a byte pipe, so that the app sees on HTTPS what the router gives it on HTTP:
 * X-Forwarded-For/-Proto/-Host, Forwarded, X-Real-IP and X-Request-Id set from what this sidecar saw
 * (the client's own values dropped), bodies streamed both ways, upgrades (WebSockets) piped.
 * The router passes TLS through untouched and tells who the client is with a PROXY protocol v2
 * header in front of the ClientHello (docs/router.md). Node builtins only, one file: the image
 * holds nothing else. It never prints the certificate or key it is given (docs/sidecars.md).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';

const env = process.env;
// Files of a secret volume only this container mounts, never env values (docs/security.md, "intra-pod").
const certFile = env.SIDECAR_TLS_CERT_FILE;
const keyFile = env.SIDECAR_TLS_KEY_FILE;
const readPem = (file: string | undefined) => {
  try {
    return file ? readFileSync(file, 'utf8') : undefined;
  } catch (e) {
    console.error(`tls-terminator: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    return undefined;
  }
};
const cert = readPem(certFile);
const key = readPem(keyFile);
const port = Number(env.SIDECAR_TLS_PORT ?? 8443);
const upstreamPort = Number(env.SIDECAR_TLS_UPSTREAM_PORT ?? 8080);
const drainMs = Number(env.SIDECAR_DRAIN_TIMEOUT_MS ?? 25_000);

if (!cert || !key) {
  console.error(
    'tls-terminator: SIDECAR_TLS_CERT_FILE and SIDECAR_TLS_KEY_FILE must name PEM files (certificate, key)',
  );
  process.exit(1);
}

/** PROXY protocol v2 (haproxy.org proxy-protocol.txt §2.2): 12-byte signature, then version/command, family, length. */
const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
const FORWARDING = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'x-real-ip'];
const REQUEST_ID = /^[A-Za-z0-9._:/+=-]{1,200}$/;

type Header = { kind: 'incomplete' } | { kind: 'none' } | { kind: 'proxy'; length: number; source?: string };

/** Pure: whether the bytes start with a PROXY v2 header, and the client's address in it. */
export function parseProxyHeader(buf: Buffer): Header {
  const n = Math.min(buf.length, SIGNATURE.length);
  if (!buf.subarray(0, n).equals(SIGNATURE.subarray(0, n))) return { kind: 'none' };
  if (buf.length < 16) return { kind: 'incomplete' };
  const length = 16 + buf.readUInt16BE(14);
  if (buf.length < length) return { kind: 'incomplete' };
  const family = buf[13]! >> 4;
  if (family === 0x1 && length >= 16 + 12) return { kind: 'proxy', length, source: ipv4(buf.subarray(16, 20)) };
  if (family === 0x2 && length >= 16 + 36) return { kind: 'proxy', length, source: ipv6(buf.subarray(16, 32)) };
  return { kind: 'proxy', length };
}
const ipv4 = (b: Buffer) => [...b].join('.');
const ipv6 = (b: Buffer) =>
  Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16))
    .join(':')
    .replace(/(^|:)0(:0)+(:|$)/, '::');

/** The client each TLS connection stands for: the PROXY header's source, else the TCP peer. */
const clients = new WeakMap<net.Socket, string>();

/** The request's headers for the runtime: hop-by-hop and the client's forwarding values replaced. */
function forwardHeaders(req: http.IncomingMessage, upgrade: boolean): http.OutgoingHttpHeaders {
  const named = String(req.headers.connection ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase());
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers))
    if (!HOP_BY_HOP.includes(k) && !FORWARDING.includes(k) && !named.includes(k)) out[k] = v;
  const client = clients.get(req.socket) ?? req.socket.remoteAddress ?? '';
  const host = req.headers.host ?? '';
  const given = req.headers['x-request-id'];
  out['x-forwarded-for'] = client;
  out['x-real-ip'] = client;
  out['x-forwarded-proto'] = 'https';
  out['x-forwarded-host'] = host;
  out['forwarded'] = `for=${client.includes(':') ? `"[${client}]"` : client};host="${host}";proto=https`;
  out['x-request-id'] = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  if (upgrade) {
    out.connection = 'upgrade';
    out.upgrade = req.headers.upgrade;
  }
  return out;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const SAFE_TO_RETRY = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

function proxy(req: http.IncomingMessage, res: http.ServerResponse, attempt = 0): void {
  const up = http.request(
    {
      host: '127.0.0.1',
      port: upstreamPort,
      method: req.method,
      path: req.url,
      headers: forwardHeaders(req, false),
      agent,
    },
    (upRes) => {
      const headers = { ...upRes.headers };
      for (const h of HOP_BY_HOP) delete headers[h];
      res.writeHead(upRes.statusCode ?? 502, headers);
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
    },
  );
  // A reused keep-alive connection the runtime just closed: an idempotent request is sent again.
  up.on('error', (e: NodeJS.ErrnoException) => {
    if (res.headersSent) return void res.destroy();
    const stale = e.code === 'ECONNRESET' && up.reusedSocket && SAFE_TO_RETRY.has(req.method ?? '');
    if (stale && attempt === 0 && req.readableEnded) return proxy(req, res, 1);
    res.writeHead(502, { 'content-type': 'application/problem+json' });
    res.end(
      JSON.stringify({ type: 'about:blank', title: 'The app did not answer', status: 502, code: 'upstream_failed' }),
    );
  });
  res.once('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  if (attempt === 0) req.pipe(up);
  else up.end();
}

const server = http.createServer(proxy);
server.keepAliveTimeout = 60_000;
server.headersTimeout = 10_000;
// Upgrades (WebSockets): the request is written as received (forwarding headers replaced), then bytes flow both ways.
server.on('upgrade', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
  const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort });
  const endBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', endBoth);
  upstream.on('error', endBoth);
  upstream.once('connect', () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (const [k, v] of Object.entries(forwardHeaders(req, true)))
      for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${String(one)}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    client.pipe(upstream);
    upstream.pipe(client);
  });
});

/**
 * The connection as a stream that first yields the bytes already read. (A TLSSocket over the
 * net.Socket itself would read from its handle and miss them.)
 */
function prepend(raw: net.Socket, first: Buffer): Duplex {
  const stream = new Duplex({
    read: () => void raw.resume(),
    write: (chunk: Buffer, _encoding, done) => void raw.write(chunk, done),
    final: (done) => {
      raw.end();
      done();
    },
    destroy: (error, done) => {
      raw.destroy(error ?? undefined);
      done(error);
    },
  });
  if (first.length > 0) stream.push(first);
  raw.on('data', (c: Buffer) => {
    if (!stream.push(c)) raw.pause();
  });
  raw.on('end', () => stream.push(null));
  raw.on('close', () => stream.destroy());
  raw.resume();
  return stream;
}

const context = tls.createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
const open = new Set<net.Socket>();
const listener = net.createServer((raw) => {
  open.add(raw);
  raw.once('close', () => open.delete(raw));
  raw.on('error', () => raw.destroy());
  let buffered = Buffer.alloc(0);
  const timer = setTimeout(() => raw.destroy(), 10_000);
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    const header = parseProxyHeader(buffered);
    if (header.kind === 'incomplete') return;
    raw.off('data', onData);
    raw.pause();
    clearTimeout(timer);
    const rest = header.kind === 'proxy' ? buffered.subarray(header.length) : buffered;
    const secure = new tls.TLSSocket(prepend(raw, rest), { isServer: true, secureContext: context });
    // A failed handshake (a client that does not trust the CA, a port scan) is the client's problem, not ours.
    secure.on('error', () => secure.destroy());
    clients.set(secure, header.kind === 'proxy' && header.source ? header.source : (raw.remoteAddress ?? ''));
    server.emit('connection', secure);
  };
  raw.on('data', onData);
});
listener.listen(port, () => console.log(`tls-terminator: https on :${port} → http://127.0.0.1:${upstreamPort}`));

// As a native sidecar it is stopped after the runtime: stop accepting, let open connections end, exit 0.
const stop = () => {
  listener.close(() => process.exit(0));
  server.closeIdleConnections();
  for (const s of open) s.end();
  setTimeout(() => process.exit(0), drainMs).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
