import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Upstream } from '@sidecar/core';
import { connectRedis, createStores, type Stores } from '@sidecar/store';
import { freePort } from '../../../test/support/global-setup.js';
import { type RunningRouter, startRouter } from '../router.js';

/** The real router (HAProxy included) on free loopback ports, its own key prefix and data dir. */
export interface TestRouter {
  port: number;
  tlsPort: number;
  router: RunningRouter;
  stores: Stores;
  prefix: string;
  dataDir: string;
  /** A real upstream on loopback with this handler; closed with the harness. */
  upstream(handler: http.RequestListener, pod?: string): Promise<Upstream & { server: http.Server }>;
  route(app: string, upstreams: Upstream[]): Promise<void>;
  /**
   * Ends the router as a crash would: its HAProxy keeps running (and serving) for the next router to
   * adopt. Upstreams made with upstream() stay up: close them through the server they come with.
   */
  crash(): Promise<void>;
  /**
   * Another tenant creates an app, as the API does (stored, then declared to the routers): HAProxy reloads.
   * Resolves once the new worker serves; the one it replaced keeps the connections it had.
   */
  createApp(app: string): Promise<void>;
  /** Sets an app's stored `http` settings (the API's shape) and waits until the router applied them. */
  settings(app: string, http: Record<string, number>): Promise<void>;
  close(): Promise<void>;
}

/** `same`: a router taking over from an earlier one (its data dir, port and key prefix), e.g. after a crash. */
export async function startTestRouter(
  redisUrl: string,
  env: Record<string, string> = {},
  same?: Pick<TestRouter, 'dataDir' | 'port' | 'prefix'>,
): Promise<TestRouter> {
  const prefix = same?.prefix ?? `t-${randomUUID().slice(0, 8)}:`;
  const dataDir = same?.dataDir ?? mkdtempSync(join(tmpdir(), 'router-'));
  const port = same?.port ?? (await freePort());
  const config = loadConfig('router', {
    SIDECAR_REDIS_URL: redisUrl,
    SIDECAR_REDIS_PREFIX: prefix,
    SIDECAR_DATA_DIR: dataDir,
    SIDECAR_ROUTER_PORT: String(port),
    SIDECAR_ROUTER_TLS_PORT: '0',
    SIDECAR_ROUTER_THREADS: '1',
    SIDECAR_ROUTER_ACCESS_LOG: 'off',
    ...env,
  });
  const router = await startRouter(config);
  // A test process that ends without closing its routers (a failed hook, a stopped run) takes their HAProxy along.
  // Only that HAProxy: the pid must still run this router's configuration (pids are reused).
  const master = router.haproxy.pid;
  const haproxyConfig = router.haproxy.files.config;
  process.once('exit', () => {
    try {
      if (master !== undefined && readFileSync(`/proc/${master}/cmdline`, 'utf8').includes(haproxyConfig))
        process.kill(master, 'SIGTERM');
    } catch {
      // Already gone.
    }
  });
  const redis = connectRedis(redisUrl);
  const stores = createStores(redis, prefix);
  const servers: http.Server[] = [];
  return {
    port,
    tlsPort: router.tlsPort,
    router,
    stores,
    prefix,
    dataDir,
    async upstream(handler, pod = `pod-${randomUUID().slice(0, 6)}`) {
      const server = http.createServer(handler);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      servers.push(server);
      return { pod, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, server };
    },
    route: (app, upstreams) => stores.routes.set(app, upstreams),
    async createApp(app) {
      const before = await router.haproxy.api.workerPid();
      await redis.set(stores.keys.app(app), JSON.stringify({ name: app }));
      await stores.routes.declare(app);
      for (const deadline = Date.now() + 10_000; (await router.haproxy.api.workerPid()) === before;) {
        if (Date.now() > deadline) throw new Error(`HAProxy did not reload for the app ${app} within 10 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async settings(app, settings) {
      await redis.set(stores.keys.app(app), JSON.stringify({ name: app, http: settings }));
      // A settings change is seen on the router's next load; a route change message triggers one now.
      await stores.routes.set(app, await stores.routes.get(app));
    },
    async crash() {
      await router.close({ keepDataPlane: true });
      await stores.close();
      await redis.quit();
    },
    async close() {
      await router.close();
      for (const s of servers) {
        s.closeAllConnections();
        s.close();
      }
      await stores.close();
      await redis.quit();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
