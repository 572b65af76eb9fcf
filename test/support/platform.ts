import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { freePort } from './global-setup.js';

/** A request through the router with `Host: <app>.localhost` (fetch may not set Host). A fresh connection each time. */
export function routerRequest(
  port: number,
  app: string,
  opts: { method?: string; path?: string; body?: string | undefined } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const headers: Record<string, string> = { host: `${app}.localhost` };
    if (opts.body !== undefined) headers['content-type'] = 'text/plain';
    const req = http.request(
      { host: '127.0.0.1', port, path: opts.path ?? '/', method: opts.method ?? 'GET', headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

export const routerGet = (port: number, app: string, path = '/') => routerRequest(port, app, { path });

/**
 * GET over HTTPS through the router's TLS port (the app's TLS sidecar answers), trusting only `ca` (the
 * platform CA); `peer` is the certificate's subject alternative names.
 */
export function routerHttpsGet(
  tlsPort: number,
  app: string,
  ca: string,
): Promise<{ status: number; body: string; peer: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: tlsPort,
        servername: `${app}.localhost`,
        path: '/',
        ca,
        headers: { host: `${app}.localhost` },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolvePromise({
            status: res.statusCode ?? 0,
            body,
            peer: JSON.stringify((res.socket as TLSSocket).getPeerCertificate().subjectaltname),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const root = resolve(import.meta.dirname, '../..');

export interface RunningPlatform {
  api: string;
  routerPort: number;
  /** The router's TLS passthrough port (SIDECAR_ROUTER_TLS_PORT). */
  routerTlsPort: number;
  token: string;
  dataDir: string;
  /** Labels every Docker object this platform creates (`sidecar.paas/platform`). */
  platformId: string;
  output: string[];
  /** GET an app through the router, as a user's browser would (Host: <app>.localhost). */
  get(app: string, path?: string): Promise<{ status: number; body: string }>;
  request(
    app: string,
    opts: { method?: string; path?: string; body?: string | undefined },
  ): Promise<{ status: number; body: string }>;
  api$(path: string, init?: RequestInit): Promise<Response>;
  pids(): Record<string, number>;
  /**
   * Stops the platform (SIGTERM, or `signal`: SIGINT is Ctrl-C); `keepData` keeps the data dir for a
   * restart. Resolves with the launcher's exit code.
   */
  stop(opts?: { keepData?: boolean; signal?: NodeJS.Signals }): Promise<number | null>;
}

/**
 * Starts the whole platform exactly as `npm start` runs it (the launcher, with
 * its embedded Redis), on free ports and a throwaway data dir, and waits for
 * its "ready" line.
 */
export interface StartOptions {
  /** Reuse a data dir (a restart of the same platform); it is then kept on stop. */
  dataDir?: string;
  platformId?: string;
  apiPort?: number;
  routerPort?: number;
  /** The address the API binds (SIDECAR_API_HOST) and `api` points at; default 127.0.0.1. */
  apiHost?: string;
  /** A command the launcher runs under, e.g. `nsenter --net=<netns>` (a platform in a network namespace of its own). */
  wrap?: string[];
}

export async function startPlatform(
  extraEnv: Record<string, string> = {},
  opts: StartOptions = {},
): Promise<RunningPlatform> {
  const keepDataDir = opts.dataDir !== undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'sidecar-e2e-'));
  const apiPort = opts.apiPort ?? (await freePort(opts.apiHost));
  const routerPort = opts.routerPort ?? (await freePort());
  // Always a free one: suites run in parallel and would all want the default 8443.
  const routerTlsPort = Number(extraEnv.SIDECAR_ROUTER_TLS_PORT ?? (await freePort()));
  const output: string[] = [];
  const platformId = opts.platformId ?? `e2e-${randomUUID().slice(0, 8)}`;
  const [command, ...args] = [
    ...(opts.wrap ?? []),
    process.execPath,
    join(root, 'deploy/single-host/dist/platform.js'),
  ];
  const child: ChildProcess = spawn(command!, args, {
    env: {
      ...process.env,
      SIDECAR_DATA_DIR: dataDir,
      SIDECAR_API_PORT: String(apiPort),
      SIDECAR_ROUTER_PORT: String(routerPort),
      SIDECAR_ROUTER_TLS_PORT: String(routerTlsPort),
      SIDECAR_PLATFORM_ID: platformId,
      SIDECAR_BACKOFF_SCALE: '0.05',
      // New pods get the product's default time to become Ready (60 s): under the whole suite's load on
      // two cores a pod's start (sandbox, sidecars, exec probes, runtime) passed 15 s at times, failing
      // deploys that would have succeeded. Files that wait for a never-ready release on purpose set less.
      SIDECAR_BUILD_EXTRA_CA_FILE: '/etc/ssl/certs/ca-certificates.crt',
      ...(opts.apiHost ? { SIDECAR_API_HOST: opts.apiHost } : {}),
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`platform not ready in 120 s:\n${output.slice(-40).join('\n')}`)),
      120_000,
    );
    child.once('exit', (code) => reject(new Error(`platform exited with ${code}:\n${output.slice(-40).join('\n')}`)));
    for (const s of [child.stdout!, child.stderr!]) {
      createInterface({ input: s }).on('line', (line) => {
        output.push(line);
        // A platform process that died is shown at once: a test failing on it otherwise shows only ECONNREFUSED.
        if (/exited \(.*\); restarting|keeps crashing|"level":60/.test(line))
          process.stderr.write(`[platform ${platformId}] ${line}\n`);
        if (line.startsWith('sidecar: ready')) {
          clearTimeout(timer);
          resolvePromise();
        }
      });
    }
  });
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const api = `http://${opts.apiHost ?? '127.0.0.1'}:${apiPort}`;
  return {
    api,
    routerPort,
    routerTlsPort,
    token,
    dataDir,
    platformId,
    output,
    get: (app, path = '/') => routerGet(routerPort, app, path),
    request: (app, opts) => routerRequest(routerPort, app, opts),
    api$(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
      return fetch(`${api}${path}`, { ...init, headers });
    },
    pids: () => {
      // The launcher's view of its children (supervisor.json); a child being restarted has no pid.
      const file = JSON.parse(readFileSync(join(dataDir, 'supervisor.json'), 'utf8')) as {
        children: Array<{ name: string; pid: number | null }>;
      };
      return Object.fromEntries(file.children.filter((c) => c.pid !== null).map((c) => [c.name, c.pid!]));
    },
    async stop(stopOpts = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill(stopOpts.signal ?? 'SIGTERM');
        await exited;
      }
      if (!keepDataDir && !stopOpts.keepData) rmSync(dataDir, { recursive: true, force: true });
      return child.exitCode;
    },
  };
}
