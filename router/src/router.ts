import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { silentLog, type Log, type RouterConfig } from '@sidecar/core';
import { routerDataPlaneFiles } from '@sidecar/platform-process';
import { connectRedis, connectSubscriber, createStores } from '@sidecar/store';
import { type AccessLine, type AccessRecord, createAccessLogListener, parseAccessLine } from './access-log.js';
import { DataPlane } from './data-plane.js';
import { HaproxyProcess, haproxyFiles } from './haproxy/haproxy-process.js';
import { AppAccessLog } from './app-access-log.js';
import { AccessLogFile } from './access-log-file.js';
import { serveMetrics, TrafficMetrics } from './metrics.js';
import { RouteCache } from './route-cache.js';
import { createTlsPassthrough } from './tls-passthrough.js';
import { ActivitySampler } from './activity.js';
import { createWaker } from './waker.js';

const FLUSH_MS = 2000;
/** How long a request to a suspended app is held for it to wake before a 503 (docs/scale-to-zero.md). */
const WAKE_HOLD_MS = 30_000;

export interface RunningRouter {
  cache: RouteCache;
  haproxy: HaproxyProcess;
  tlsPort: number;
  /** Prometheus metrics: `GET http://127.0.0.1:<port>/metrics` with the admin token. */
  metricsPort: number;
  /** Writes pending traffic counts and access lines to Redis now (they go every FLUSH_MS anyway). */
  flush(): Promise<void>;
  /** Every request's record, as HAProxy reported it (tests and metrics subscribe here). */
  onAccess(listener: (r: AccessRecord) => void): void;
  /** Stops everything; `keepDataPlane` leaves HAProxy running for the next router to adopt (a crash does the same). */
  close(opts?: { keepDataPlane?: boolean }): Promise<void>;
}

/**
 * HAProxy's threads by default: half the cores, at least one. The router shares the machine with the
 * apps it serves; on 2 cores a second thread costs more in cross-thread handoffs than it gains
 * (docs/router.md).
 */
const haproxyThreads = () => Math.max(1, Math.floor(availableParallelism() / 2));

const listen = (server: import('node:net').Server, port: number, host: string) =>
  new Promise<number>((resolve, reject) =>
    server.once('error', reject).listen(port, host, () => resolve((server.address() as AddressInfo).port)),
  );

/**
 * The router: a control loop (Redis route table and app settings → HAProxy, the data plane),
 * the HTTPS passthrough by SNI, and the access log HAProxy sends back. Its own process, so
 * that restarting the API never drops app traffic.
 */
export async function startRouter(config: RouterConfig, opts: { log?: Log } = {}): Promise<RunningRouter> {
  const log = opts.log ?? silentLog;
  const warn = (m: string) => log.warn({}, m);
  // Commands fail at once while Redis is away (no offline queue, no retry of a command caught by the
  // disconnect): the control loop notices, logs, and the data plane keeps serving the last state; the
  // heartbeat loads again once Redis is back.
  const redis = connectRedis(config.SIDECAR_REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0 }, warn);
  await new Promise<void>((resolve, reject) => {
    if (redis.status === 'ready') return resolve();
    const timer = setTimeout(() => reject(new Error('router: Redis did not answer within 30 s')), 30_000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const subscriber = connectSubscriber(config.SIDECAR_REDIS_URL, warn);
  const stores = createStores(redis, config.SIDECAR_REDIS_PREFIX, undefined, { log });
  const { dir } = routerDataPlaneFiles(config.SIDECAR_DATA_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const haproxy = new HaproxyProcess(haproxyFiles(dir), config.SIDECAR_HAPROXY_BIN);

  const traffic = new TrafficMetrics({ workers: haproxy.workers, traffic: stores.appTraffic });
  const appLog = new AppAccessLog(stores.appLogs, FLUSH_MS);
  const listeners: ((r: AccessLine) => void)[] = [(r) => traffic.record(r), (r) => appLog.record(r)];
  // HAProxy's lines are the access log already: kept as they come, one write per read.
  const keepLines = accessLogSink(config, join(dir, 'access.log'), warn);
  const accessLog = createAccessLogListener((bytes, records) => {
    keepLines?.write(bytes);
    for (const r of records) for (const l of listeners) l(r);
  });
  const logPort = await listen(accessLog, 0, '127.0.0.1');

  // Requests for an app scaled to zero come here while it wakes (HAProxy's backup server); the route
  // cache is made below, the waker only uses it once requests arrive.
  const made: { routes?: RouteCache } = {};
  const waker = createWaker({
    routes: {
      lookup: (app) => made.routes?.lookup(app),
      onApplied: (l) => made.routes?.onApplied(l) ?? (() => undefined),
    },
    domain: config.SIDECAR_APPS_DOMAIN,
    requestWake: (app) => stores.activity.requestWake(app),
    holdMs: WAKE_HOLD_MS,
    log,
  });
  const wakePort = await listen(waker.server, 0, '127.0.0.1');

  const plane = new DataPlane(haproxy, log, {
    host: config.SIDECAR_ROUTER_HOST,
    port: config.SIDECAR_ROUTER_PORT,
    domain: config.SIDECAR_APPS_DOMAIN,
    threads: config.SIDECAR_ROUTER_THREADS || haproxyThreads(),
    maxConnections: config.SIDECAR_ROUTER_MAX_CONNECTIONS,
    headerTimeoutMs: config.SIDECAR_ROUTER_HEADER_TIMEOUT_MS,
    idleTimeoutMs: config.SIDECAR_ROUTER_IDLE_TIMEOUT_MS,
    connectTimeoutMs: config.SIDECAR_ROUTER_CONNECT_TIMEOUT_MS,
    reloadGraceSeconds: config.SIDECAR_ROUTER_RELOAD_GRACE_SECONDS,
    oldWorkersMax: config.SIDECAR_ROUTER_OLD_WORKERS_MAX,
    trustedProxies: config.SIDECAR_ROUTER_TRUSTED_PROXIES,
    adminSocket: haproxy.files.adminSocket,
    hostsMap: haproxy.files.hostsMap,
    luaFile: haproxy.files.lua,
    logPort,
    wakePort,
    requestLog: config.SIDECAR_ROUTER_REQUEST_LOG === 'on',
  });
  // Drains end on their own time: report each end at once, the Docker target is waiting to stop the pod.
  let ticking = false;
  const drainTick = () => {
    ticking = true;
    const before = plane.drainingPods().length;
    void plane
      .tick()
      .then(() => (plane.drainingPods().length !== before ? cache.acknowledge() : undefined))
      .catch((e: unknown) => warn(`drain: ${(e as Error).message}`))
      .finally(() => (ticking = false));
  };
  const cache = new RouteCache({
    table: stores.routes,
    subscriber,
    log,
    apply: async (state) => {
      await plane.apply(state);
      // A pod that left rotation with nothing open is deleted at once, without holding the change's
      // acknowledgement: the tick reads every worker, which can take a while around a reload.
      drainTick();
    },
    draining: () => plane.drainingPods(),
  });
  made.routes = cache;
  await cache.start();
  if (!plane.isRunning) throw new Error('router: the first route table could not be applied (see above)');

  const drains = setInterval(() => {
    if (!ticking) drainTick();
  }, 250);

  const tlsServer = createTlsPassthrough({
    routes: cache,
    domain: config.SIDECAR_APPS_DOMAIN,
    // An HTTPS connection to a suspended app is held like a request while the app wakes.
    wake: (app) => (cache.wakesOnRequest(app) ? waker.awake(app) : Promise.resolve(undefined)),
  });
  const tlsPort = await listen(tlsServer, config.SIDECAR_ROUTER_TLS_PORT, config.SIDECAR_ROUTER_HOST);

  // When apps last had traffic, for scale to zero's idle clock: sampled from HAProxy's counters, and
  // from the HTTPS connections, which pass through the router's own TLS port, not HAProxy.
  const sampler = new ActivitySampler(haproxy.workers);
  // The counts of a worker about to be replaced are read before it can exit with them.
  haproxy.beforeReload = () => sampler.observe().catch((e: unknown) => warn(`activity: ${(e as Error).message}`));
  const flushActivity = async () => {
    const now = Date.now();
    const active = [...(await sampler.sample()), ...tlsServer.activity()];
    await stores.activity.touch(new Map(active.map((app) => [app, now])));
  };
  // Counts and access lines reach Redis in batches, not per request.
  const flushAll = () =>
    Promise.allSettled([traffic.flush(), appLog.flush(), flushActivity()]).then((results) => {
      for (const r of results) if (r.status === 'rejected') warn(`flush: ${(r.reason as Error).message}`);
    });
  const flusher = setInterval(() => void flushAll(), FLUSH_MS);
  const metrics = await serveMetrics({
    registry: traffic.registry,
    port: config.SIDECAR_ROUTER_METRICS_PORT,
    token: config.SIDECAR_ADMIN_TOKEN,
  });

  let closing: Promise<void> | undefined;
  return {
    cache,
    haproxy,
    tlsPort,
    metricsPort: metrics.port,
    flush: flushAll,
    // Parsed whole for whoever asks (tests); the router's own listeners read only what they count.
    onAccess: (l) =>
      listeners.push((r) => {
        const full = parseAccessLine(r.line);
        if (full) l(full);
      }),
    close: (opts = {}) =>
      (closing ??= (async () => {
        clearInterval(drains);
        clearInterval(flusher);
        haproxy.workers.close();
        metrics.close();
        tlsServer.close();
        waker.close();
        await flushAll();
        await cache.close();
        if (!opts.keepDataPlane) await haproxy.stop();
        accessLog.close();
        keepLines?.close();
        await stores.close();
        await Promise.allSettled([redis.quit(), subscriber.quit()]);
      })()),
  };
}

/** Where the access log goes besides the apps' logs (SIDECAR_ROUTER_ACCESS_LOG): a file, the router's output, or nowhere. */
function accessLogSink(
  config: RouterConfig,
  path: string,
  warn: (m: string) => void,
): { write(bytes: Uint8Array): void; close(): void } | undefined {
  switch (config.SIDECAR_ROUTER_ACCESS_LOG) {
    case 'file':
      return new AccessLogFile({ path, maxBytes: config.SIDECAR_ROUTER_ACCESS_LOG_MAX_MIB * 1024 * 1024, warn });
    case 'stdout':
      return { write: (bytes) => void process.stdout.write(bytes), close: () => undefined };
    case 'off':
      return undefined;
  }
}
