import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The same rule as the router's (router/src/haproxy/render-config.ts): what a client may choose. */
const WELL_FORMED = /^[A-Za-z0-9._:/+=-]{1,200}$/;

/**
 * Every API request gets an id: the client's `X-Request-Id` when it is well formed (so one id follows
 * a request from the CLI through the logs), else a new UUID. Echoed in the response header; pino-http
 * puts it on the request's log lines as `reqId`.
 */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const sent = req.headers['x-request-id'];
  const id = typeof sent === 'string' && WELL_FORMED.test(sent) ? sent : randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}
