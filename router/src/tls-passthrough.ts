import net from 'node:net';
import { appFromHost, type UpstreamPicker } from './hosts.js';
import { proxyV2Header } from './proxy-protocol.js';
import { MAX_RECORD, parseClientHello } from './sni.js';

export interface TlsPassthroughOptions {
  routes: UpstreamPicker;
  domain: string;
  /** How long a client may take to send its ClientHello. */
  helloTimeoutMs?: number;
}

/**
 * The router's HTTPS port: TLS is passed through, not terminated. It reads the
 * ClientHello's server name, maps `<app>.<domain>` to a ready pod whose TLS
 * sidecar is running (the upstream's `tlsAddress`), sends a PROXY protocol v2 header
 * (the client's address, for the sidecar's forwarding headers), replays the bytes
 * read so far and pipes both ways. The certificate the client sees is the TLS sidecar's.
 * Without a name, an unknown app, or no pod with TLS, the connection is closed:
 * there is no certificate here to send a readable error with.
 */
export function createTlsPassthrough(opts: TlsPassthroughOptions): net.Server {
  return net.createServer((client) => {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => client.destroy(), opts.helloTimeoutMs ?? 10_000);
    client.on('error', () => client.destroy());
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const hello = parseClientHello(buffered);
      if (hello.kind === 'incomplete' && buffered.length < MAX_RECORD) return;
      client.off('data', onData);
      client.pause();
      clearTimeout(timer);
      const app = hello.kind === 'hello' ? appFromHost(hello.serverName, opts.domain) : undefined;
      if (!app) return client.destroy();
      connect(client, buffered, app, opts.routes, new Set());
    };
    client.on('data', onData);
  });
}

/** Tries the app's TLS-capable pods in turn until one accepts the connection. */
function connect(client: net.Socket, hello: Buffer, app: string, routes: UpstreamPicker, tried: Set<string>): void {
  const upstream = pickTls(routes, app, tried);
  if (!upstream) return void client.destroy();
  tried.add(upstream);
  const [host, port] = upstream.split(':');
  const pod = net.connect({ host, port: Number(port) });
  let connected = false;
  pod.once('connect', () => {
    connected = true;
    pod.on('error', () => client.destroy());
    client.on('close', () => pod.destroy());
    pod.on('close', () => client.destroy());
    // Who the client is, for the sidecar's forwarding headers (docs/router.md), then its own bytes.
    const header = proxyV2Header(
      { address: client.remoteAddress ?? '', port: client.remotePort ?? 0 },
      { address: client.localAddress ?? '', port: client.localPort ?? 0 },
    );
    pod.write(header ? Buffer.concat([header, hello]) : hello);
    client.pipe(pod);
    pod.pipe(client);
    client.resume();
  });
  // Refused before anything was exchanged (a pod that just left rotation): nothing is lost by trying another.
  pod.once('error', () => {
    if (!connected) connect(client, hello, app, routes, tried);
  });
}

function pickTls(routes: UpstreamPicker, app: string, tried: ReadonlySet<string>): string | undefined {
  const candidates = (routes.lookup(app) ?? []).filter((u) => u.tlsAddress !== undefined && !tried.has(u.tlsAddress));
  if (candidates.length === 0) return undefined;
  return candidates[Math.floor(Math.random() * candidates.length)]!.tlsAddress;
}
