import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { type Duplex, pipeline } from 'node:stream';
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
export interface Waker {
  /** The HTTP server HAProxy sends a suspended app's requests to. */
  server: http.Server;
  /** The app's pods once it serves again (a wake asked for if needed); undefined when it did not within holdMs. */
  awake(app: string): Promise<Upstream[] | undefined>;
  /** Ends every wait (their requests get a 503) and closes the server. */
  close(): void;
}

export function createWaker(opts: WakerOptions): Waker {
  const log = opts.log ?? silentLog;
  const repeatMs = opts.repeatMs ?? 1000;
  /** Per app, the one wait all its held requests share, and how to end it early. */
  const waits = new Map<string, { wait: Promise<Upstream[] | undefined>; end: () => void }>();
  let turn = 0;

  const awake = (app: string): Promise<Upstream[] | undefined> => {
    const now = opts.routes.lookup(app);
    if (now && now.length > 0) return Promise.resolve(now);
    const known = waits.get(app);
    if (known) return known.wait;
    let end = () => undefined as void;
    const wait = new Promise<Upstream[] | undefined>((resolve) => {
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
      end = () => done(undefined);
      ask();
    });
    waits.set(app, { wait, end });
    return wait;
  };

  const pick = (ups: Upstream[]) => ups[turn++ % ups.length]!;

  const server = http.createServer((req, res) => {
    // The waker is a rare path: no keep-alive towards HAProxy, so no pooled connection can go stale.
    res.shouldKeepAlive = false;
    const app = appFromHost(req.headers.host, opts.domain);
    if (!app) return problem(req, res, RouterProblem.appNotFound, 'no app has this host name');
    void awake(app).then((ups) => {
      // The client may have gone while it was held: then nothing is sent to the pod.
      if (res.destroyed || req.destroyed) return;
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
      if (socket.destroyed) return;
      if (!ups) return socket.end(rawProblem(req, RouterProblem.noReadyPod, 'the app did not wake in time'));
      tunnel(req, socket, head, pick(ups).address);
    });
  });
  // Held requests wait on the app, not on the client: no request timeout here (HAProxy keeps its own).
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  return {
    server,
    awake,
    close() {
      for (const { end } of [...waits.values()]) end();
      // Open connections end with their answers (none is kept alive).
      server.close();
    },
  };
}

function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/** Hop-by-hop headers of a message: the fixed ones and those its own `Connection` header names (RFC 9110 §7.6.1). */
function hopByHop(headers: http.IncomingHttpHeaders): Set<string> {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0);
  return new Set([...HOP, ...named]);
}

/**
 * The request to the pod as it came (body streamed both ways), the pod's answer back as it comes.
 * Trailers are not forwarded (HAProxy in front of the waker does not pass them either).
 */
function forward(req: IncomingMessage, res: ServerResponse, address: string, log: Log): void {
  const drop = hopByHop(req.headers);
  const headers: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) if (!drop.has(k) && v !== undefined) headers[k] = v;
  const upstream = http.request(
    { ...hostPort(address), method: req.method, path: req.url, headers, agent: false },
    (answer) => {
      const dropAnswer = hopByHop(answer.headers);
      const out: string[] = [];
      for (let i = 0; i < answer.rawHeaders.length; i += 2) {
        if (!dropAnswer.has(answer.rawHeaders[i]!.toLowerCase()))
          out.push(answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!);
      }
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
      // A pod that drops the connection mid-answer ends the client's response too (no hang).
      pipeline(answer, res, () => undefined);
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

const problemBody = (req: IncomingMessage, p: RouterProblem, detail: string) =>
  JSON.stringify({
    type: 'about:blank',
    title: p.title,
    status: p.status,
    code: p.code,
    detail,
    requestId: req.headers['x-request-id'],
  });

/** The problem as a whole raw HTTP/1.1 response, for a held upgrade (a socket, not a response object). */
function rawProblem(req: IncomingMessage, p: RouterProblem, detail: string): string {
  const body = problemBody(req, p, detail);
  const retry = p.status === 503 ? 'Retry-After: 1\r\n' : '';
  return (
    `HTTP/1.1 ${p.status} ${p.title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${retry}Connection: close\r\n\r\n${body}`
  );
}

/** The same problem+json HAProxy answers with (render-config.ts), with the request's id. */
function problem(req: IncomingMessage, res: ServerResponse, p: RouterProblem, detail: string): void {
  const body = problemBody(req, p, detail);
  res.writeHead(p.status, {
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    ...(p.status === 503 ? { 'retry-after': '1' } : {}),
  });
  res.end(body);
}
