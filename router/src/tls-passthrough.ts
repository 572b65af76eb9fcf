import net from 'node:net';
import type { Upstream } from '@sidecar/core';
import { appFromHost, type UpstreamPicker } from './hosts.js';
import { proxyV2Header } from './proxy-protocol.js';
import { MAX_RECORD, parseClientHello } from './sni.js';

export interface TlsPassthroughOptions {
  routes: UpstreamPicker;
  domain: string;
  /** How long a client may take to send its ClientHello. */
  helloTimeoutMs?: number;
  /**
   * For an app with no pod to take the connection: waits for it to wake (scale to zero, waker.ts) and
   * resolves once it has pods, or undefined when it will not (then the connection is closed).
   */
  wake?: (app: string) => Promise<Upstream[] | undefined>;
}

export interface TlsPassthrough extends net.Server {
  /** Apps with an HTTPS connection open now or opened since the last call (scale to zero's idle clock). */
  activity(): string[];
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
export function createTlsPassthrough(opts: TlsPassthroughOptions): TlsPassthrough {
  const open = new Map<string, number>();
  const seen = new Set<string>();
  const track = (app: string, client: net.Socket) => {
    seen.add(app);
    open.set(app, (open.get(app) ?? 0) + 1);
    client.once('close', () => {
      const left = (open.get(app) ?? 1) - 1;
      if (left > 0) open.set(app, left);
      else open.delete(app);
    });
  };
  const server = net.createServer((client) => {
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
      track(app, client);
      if (pickTls(opts.routes, app, new Set()) !== undefined || !opts.wake)
        return connect(client, buffered, app, opts.routes, new Set());
      // No pod takes it now: held (the ClientHello kept) while the app wakes, if it scales to zero.
      void opts.wake(app).then((ups) => {
        if (client.destroyed) return;
        if (!ups) return void client.destroy();
        connect(client, buffered, app, opts.routes, new Set());
      });
    };
    client.on('data', onData);
  });
  return Object.assign(server, {
    activity: () => {
      const active = [...new Set([...seen, ...open.keys()])];
      seen.clear();
      return active;
    },
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
