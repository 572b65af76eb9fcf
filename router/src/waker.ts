import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { silentLog, type Log, type Upstream } from '@sidecar/core';
import { appFromHost } from './hosts.js';
import { PROBLEM_CONTENT_TYPE, RouterProblem } from './problems.js';

export interface WakerOptions {
  /** The router's routes: what an app serves with, and a call after each change put in force. */
  routes: {
    lookup(app: string): Upstream[] | undefined;
    onApplied(listener: () => void): () => void;
  };
  domain: string;
  /** Asks the worker to wake the app (Redis pub/sub); sent again every `repeatMs` while requests wait. */
  requestWake: (app: string) => Promise<void>;
  /** How long a request is held before it gets a 503 with Retry-After (the app did not wake). */
  holdMs: number;
  repeatMs?: number;
  log?: Log;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1): this hop's own, never forwarded. */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);

/**
 * Scale to zero's front door (docs/scale-to-zero.md). HAProxy sends an app's requests here only while
 * no pod of the app is in rotation (its `backup` server, render-config.ts): the waker holds each
 * request, asks the worker once to wake the app, and forwards it to a pod as soon as the app's routes
 * are back, so no request of a waking app fails. HAProxy has added the forwarding headers already; the
 * request's own access-log line is HAProxy's, with `wake` as its server.
 */
export function createWaker(opts: WakerOptions): http.Server {
  const log = opts.log ?? silentLog;
  const repeatMs = opts.repeatMs ?? 1000;
  /** Per app, the one wait all its held requests share. */
  const waits = new Map<string, Promise<Upstream[] | undefined>>();
  let turn = 0;

  /** The app's pods once it serves again; undefined when it did not within holdMs. */
  const awake = (app: string): Promise<Upstream[] | undefined> => {
    const now = opts.routes.lookup(app);
    if (now && now.length > 0) return Promise.resolve(now);
    let wait = waits.get(app);
    if (!wait) {
      wait = new Promise<Upstream[] | undefined>((resolve) => {
        const ask = () =>
          void opts.requestWake(app).catch((e: unknown) => log.warn({ app, err: e }, 'asking for a wake failed'));
        const repeat = setInterval(ask, repeatMs);
        const done = (ups: Upstream[] | undefined) => {
          clearInterval(repeat);
          clearTimeout(timer);
          stop();
          waits.delete(app);
          resolve(ups);
        };
        const timer = setTimeout(() => done(undefined), opts.holdMs);
        const stop = opts.routes.onApplied(() => {
          const ups = opts.routes.lookup(app);
          if (ups && ups.length > 0) done(ups);
        });
        ask();
      });
      waits.set(app, wait);
    }
    return wait;
  };

  const pick = (ups: Upstream[]) => ups[turn++ % ups.length]!;

  const server = http.createServer((req, res) => {
    const app = appFromHost(req.headers.host, opts.domain);
    if (!app) return problem(req, res, RouterProblem.appNotFound, 'no app has this host name');
    void awake(app).then((ups) => {
      if (!ups)
        return problem(req, res, RouterProblem.noReadyPod, `the app did not wake within ${opts.holdMs / 1000} s`);
      forward(req, res, pick(ups).address, log);
    });
  });
  // A WebSocket (or any upgrade) to a waking app: held the same way, then joined to the pod byte for byte.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const app = appFromHost(req.headers.host, opts.domain);
    socket.on('error', () => undefined);
    void (app ? awake(app) : Promise.resolve(undefined)).then((ups) => {
      if (!ups) return socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n');
      tunnel(req, socket, head, pick(ups).address);
    });
  });
  // Held requests wait on the app, not on the client: no request timeout here (HAProxy keeps its own).
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  return server;
}

function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/** The request to the pod as it came (body streamed both ways), the pod's answer back as it comes. */
function forward(req: IncomingMessage, res: ServerResponse, address: string, log: Log): void {
  const headers: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = v;
  const upstream = http.request(
    { ...hostPort(address), method: req.method, path: req.url, headers, agent: false },
    (answer) => {
      const out: string[] = [];
      for (let i = 0; i < answer.rawHeaders.length; i += 2) {
        if (!HOP.has(answer.rawHeaders[i]!.toLowerCase())) out.push(answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!);
      }
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
      answer.pipe(res);
    },
  );
  upstream.on('error', (e) => {
    log.warn({ address, err: e }, 'a held request could not reach the woken pod');
    if (!res.headersSent) problem(req, res, RouterProblem.upstreamFailed, 'the woken pod refused the connection');
    else res.destroy();
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

function tunnel(req: IncomingMessage, socket: Duplex, head: Buffer, address: string): void {
  const pod = net.connect(hostPort(address), () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    pod.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) pod.write(head);
    pod.pipe(socket).pipe(pod);
  });
  pod.on('error', () => socket.destroy());
  socket.on('close', () => pod.destroy());
}

/** The same problem+json HAProxy answers with (render-config.ts), with the request's id. */
function problem(req: IncomingMessage, res: ServerResponse, p: RouterProblem, detail: string): void {
  const requestId = req.headers['x-request-id'];
  const body = JSON.stringify({
    type: 'about:blank',
    title: p.title,
    status: p.status,
    code: p.code,
    detail,
    requestId,
  });
  res.writeHead(p.status, {
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    ...(p.status === 503 ? { 'retry-after': '1' } : {}),
  });
  res.end(body);
}
