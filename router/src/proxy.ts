import http, { type ServerResponse } from 'node:http';
import type { Upstream } from '@sidecar/core';

export interface UpstreamPicker {
  lookup(app: string): Upstream[] | undefined;
  pick(app: string, exclude?: ReadonlySet<string>): Upstream | undefined;
}

export interface ProxyOptions {
  routes: UpstreamPicker;
  /** Apps are served at `<app>.<domain>`. */
  domain: string;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const SAFE_TO_RETRY = new Set(['GET', 'HEAD', 'OPTIONS']);

/** `hello.localhost:8080` → `hello`; anything not under the apps domain → undefined. */
export function appFromHost(host: string | undefined, domain: string): string | undefined {
  if (!host) return undefined;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  const suffix = `.${domain.toLowerCase()}`;
  if (!name.endsWith(suffix)) return undefined;
  const app = name.slice(0, -suffix.length);
  return /^[a-z0-9-]+$/.test(app) ? app : undefined;
}

function reply(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-sidecar-router': 'error' });
  res.end(`${message}\n`);
}

/**
 * The single-host edge: routes by Host header to one of the app's ready pods.
 * A request that could not reach a pod (connection refused or reset before any
 * response — a pod that just left rotation) is retried on another pod when that
 * is safe: always for bodiless methods, never once a body has been streamed.
 */
export function createProxy(opts: ProxyOptions): http.RequestListener {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 1000 });

  return (req, res) => {
    const app = appFromHost(req.headers.host, opts.domain);
    if (!app) return reply(res, 404, `no app here: use http://<app>.${opts.domain}/`);
    if (!opts.routes.lookup(app)) return reply(res, 404, `no app named "${app}"`);
    const retryable = SAFE_TO_RETRY.has(req.method ?? 'GET') || req.headers['content-length'] === '0';
    const tried = new Set<string>();

    const attempt = (): void => {
      const upstream = opts.routes.pick(app, tried);
      if (!upstream) {
        return reply(
          res,
          tried.size ? 502 : 503,
          tried.size ? `app "${app}" did not answer` : `app "${app}" has no ready pod`,
        );
      }
      tried.add(upstream.address);
      const [hostname, port] = upstream.address.split(':');
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
      headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
      headers['x-forwarded-host'] = req.headers.host ?? '';
      headers['x-forwarded-proto'] = 'http';

      const up = http.request(
        { hostname, port: Number(port), method: req.method, path: req.url, headers, agent },
        (upRes) => {
          const out: http.OutgoingHttpHeaders = {};
          for (const [k, v] of Object.entries(upRes.headers)) if (!HOP_BY_HOP.has(k)) out[k] = v;
          res.writeHead(upRes.statusCode ?? 502, out);
          upRes.pipe(res);
          upRes.on('error', () => res.destroy());
        },
      );
      // A client that goes away abandons its request upstream too (no work for nobody).
      const abandon = () => {
        if (!res.writableFinished) up.destroy();
      };
      res.once('close', abandon);
      up.on('error', (err: NodeJS.ErrnoException) => {
        res.off('close', abandon);
        if (res.destroyed) return;
        const beforeResponse = !res.headersSent;
        const connectionLevel = ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH'].includes(err.code ?? '');
        if (beforeResponse && connectionLevel && retryable) return attempt();
        reply(res, 502, `app "${app}" did not answer`);
      });
      if (retryable) up.end();
      else req.pipe(up);
    };
    attempt();
  };
}
