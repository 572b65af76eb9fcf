/**
 * The runtime's HTTP server for handler and static modes: answers the readiness
 * path itself, hands everything else to the loaded listener, and drains on stop.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Listener } from './handler.js';

// Mirrors READY_PATH in @sidecar/core; a value import would need core's node_modules in the image.
export const READY_PATH = '/__sidecar/ready';

export interface RuntimeServer {
  server: Server;
  /** Starts serving with the loaded listener; readiness turns 200. */
  setListener(listener: Listener): void;
  /** Not-ready at once, no new connections, in-flight requests finish (bounded); resolves when closed. */
  drain(timeoutMs: number): Promise<'drained' | 'timeout'>;
}

function fail(res: ServerResponse, err: unknown): void {
  process.stderr.write(`runtime: request failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  if (!res.headersSent) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('internal server error\n');
  } else {
    res.destroy(); // a half-sent response cannot be turned into an error any more
  }
}

export function createRuntimeServer(): RuntimeServer {
  let listener: Listener | undefined;
  let draining = false;
  const inFlight = new Set<ServerResponse>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (draining) res.setHeader('connection', 'close');
    const path = (req.url ?? '/').split('?')[0];
    if (path === READY_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      const ready = listener !== undefined && !draining;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(ready ? 'ready\n' : 'not ready\n');
      return;
    }
    if (!listener) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' }).end('not ready\n');
      return;
    }
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    try {
      const result = listener(req, res);
      if (result instanceof Promise) result.catch((err: unknown) => fail(res, err));
    } catch (err) {
      fail(res, err);
    }
  });

  let drained: Promise<'drained' | 'timeout'> | undefined;
  const drain = (timeoutMs: number) => {
    // Safe to call twice (SIGTERM then SIGINT): one drain, one result.
    drained ??= new Promise((resolve) => {
      draining = true;
      // Responses still being written tell their clients not to reuse the connection.
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      const timer = setTimeout(() => {
        server.closeAllConnections();
        resolve('timeout');
      }, timeoutMs);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve('drained');
      });
      server.closeIdleConnections();
    });
    return drained;
  };

  return { server, setListener: (l) => (listener = l), drain };
}
