import type { HttpSettings } from '@sidecar/core';
import { PROBLEM_CONTENT_TYPE, RouterProblem } from '../problems.js';

/** Pure: the router's tables and settings → HAProxy's configuration text (HAProxy 2.6, Debian 12). */

export interface PlannedApp {
  name: string;
  http: HttpSettings;
  /** The pods in HTTP rotation: server name = pod name. */
  servers: { pod: string; address: string }[];
  /** Scale to zero is on: with no pod in rotation, requests go to the router's waker, which holds them while the app wakes. */
  wakeOnRequest?: boolean;
}

export interface DataPlaneSettings {
  host: string;
  port: number;
  domain: string;
  threads: number;
  /** The global cap on client connections. */
  maxConnections: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  /** How long a worker replaced by a reload keeps its connections at most (then at least the longest drain + 5 s). */
  reloadGraceSeconds: number;
  /** Replaced workers kept at once (`mworker-max-reloads`): past this many reloads the oldest is stopped. */
  oldWorkersMax: number;
  /** Peers (addresses or CIDRs) whose X-Forwarded-* / Forwarded values are kept. */
  trustedProxies: readonly string[];
  /** HAProxy's runtime API (admin level), a Unix socket only the router's user can open. */
  adminSocket: string;
  /** `<app>.<domain>` → app name, a map file HAProxy reads at (re)load. */
  hostsMap: string;
  /** The Lua file with the hop-by-hop action (hop-by-hop.lua.ts), written beside the configuration. */
  luaFile: string;
  /** The router's waker (waker.ts): the backup server of apps that scale to zero, on loopback. */
  wakePort: number;
  /** Where HAProxy sends one JSON line per request (the router's access-log listener, TCP on loopback). */
  logPort: number;
  /**
   * One line per request to the router (access log, per-app request metrics). Off trades them for
   * throughput: HAProxy then spends nothing per request on logging (docs/router.md).
   */
  requestLog: boolean;
}

/** Backend names are derived from app names ([a-z0-9-]). */
export const backendOf = (app: string) => `app_${app}`;
export const appOfBackend = (backend: string) => (backend.startsWith('app_') ? backend.slice(4) : undefined);

/** Stick tables keyed by app name: requests in flight (the concurrency limit) and upgraded connections. */
export const TABLE_IN_FLIGHT = 'st_in_flight';
export const TABLE_UPGRADED = 'st_upgraded';

/**
 * What HAProxy logs per request: the access log line itself, printed by the router as it comes and
 * parsed for the metrics (access-log.ts). It is shaped as the platform's other log lines (pino's
 * `level`, `time`, `name`, `msg`), so the launcher shows it like them. Strings that come from the client
 * go through the `json` converter. `time` is the accept time (ms since the epoch), `durationMs` the
 * total time (%Ta), bytes from/to the client, `pod` the answering pod (`<NOSRV>` when the router answered
 * itself), `term` HAProxy's termination state. `app` is `-` for a host that names no app (HAProxy prints an
 * unset variable so). The path is cut at 1 KiB: escaped (at most 6 characters a byte) it keeps the line within
 * LOG_LINE_MAX, so every line is whole JSON (HAProxy cuts longer lines, by default at 1,024 bytes).
 */
/** The longest access line HAProxy writes (`len` of the log target; the ring's `maxlen` is the same). */
export const LOG_LINE_MAX = 8192;

export const LOG_FORMAT =
  '{"level":30,"time":%Ts%ms,"name":"router","msg":"access","app":"%[var(txn.app)]","pod":"%s","method":"%HM",' +
  '"path":"%[var(txn.path),bytes(0,1024),json(utf8s)]","status":%ST,"durationMs":%Ta,"bytesIn":%U,"bytesOut":%B,' +
  '"requestId":"%[var(txn.rid),json(utf8s)]","client":"%ci","term":"%ts"}';

const HEALTH =
  'check inter 500 fastinter 250 downinter 500 fall 1 rise 1 observe layer4 error-limit 1 on-error mark-down';

/**
 * Idle connections to the pod are kept (unbounded, closed after 5 s unused): the defaults of a server
 * in the file, but not of one added at run time (`add server`: no idle pool, purged at once), which made
 * every request to a deploy's new pod open a new connection (20 connections for 20 keep-alive requests,
 * connection-reuse.test.ts; the throughput it cost was measured by hand only, docs/benchmarks.md).
 */
const KEEP_ALIVE = 'pool-max-conn -1 pool-purge-delay 5s';

/** The options every pod's server line has, in the file and when added at run time. */
export function serverOptions(address: string): string {
  return `${address} ${KEEP_ALIVE} ${HEALTH}`;
}

export function hostsMapText(apps: readonly PlannedApp[], domain: string): string {
  return apps.map((a) => `${a.name}.${domain.toLowerCase()} ${a.name}\n`).join('');
}

function problem(p: RouterProblem, detail: string): string {
  const body = JSON.stringify({ type: 'about:blank', title: p.title, status: p.status, code: p.code, detail });
  // A single-quoted HAProxy string has no escapes: the texts here never hold a quote.
  if (body.includes("'")) throw new Error(`a problem text may not hold a single quote: ${body}`);
  // A log-format string: `%[...]` expands, a literal `%` is `%%`. The request id closes the object.
  const open = body.replace(/%/g, '%%').slice(0, -1);
  return `content-type ${PROBLEM_CONTENT_TYPE} lf-string '${open},"requestId":"%[var(txn.rid),json(utf8s)]"}'`;
}

const seconds = (ms: number) => `${Math.max(1, Math.round(ms))}ms`;

/** The waker's server name in a backend (pod names always hold a `-v<N>-`, so never this). */
export const WAKE_SERVER = 'wake';

function renderBackend(app: PlannedApp, wakePort: number): string {
  const h = app.http;
  const bytes = h.maxBodyMiB * 1024 * 1024;
  return [
    `backend ${backendOf(app.name)}`,
    `  balance roundrobin`,
    `  timeout server ${h.timeoutSeconds}s`,
    `  http-request track-sc1 str(${app.name}) table ${TABLE_IN_FLIGHT}`,
    `  http-request return status 503 hdr Retry-After 1 ${problem(RouterProblem.overloaded, `more than ${h.maxConcurrent} requests in flight`)} if { sc1_conn_cur gt ${h.maxConcurrent} }`,
    `  http-request deny deny_status 413 ${problem(RouterProblem.bodyTooLarge, `the limit is ${h.maxBodyMiB} MiB`)} if { req.hdr_val(content-length) gt ${bytes} }`,
    `  http-response track-sc2 str(${app.name}) table ${TABLE_UPGRADED} if { status 101 }`,
    `  http-error status 504 ${problem(RouterProblem.upstreamTimeout, `no answer within ${h.timeoutSeconds} s`)}`,
    `  http-error status 503 ${problem(RouterProblem.noReadyPod, 'no pod of the app is ready')}`,
    `  http-error status 502 ${problem(RouterProblem.upstreamFailed, 'the pod closed or refused the connection')}`,
    ...app.servers.map((s) => `  server ${s.pod} ${serverOptions(s.address)}`),
    // Used only while no pod is in rotation (suspended): the waker holds the request and wakes the app.
    ...(app.wakeOnRequest ? [`  server ${WAKE_SERVER} 127.0.0.1:${wakePort} backup`] : []),
    '',
  ].join('\n');
}

/** Forwarding headers: the client's own values are dropped unless the peer is a trusted proxy. */
function forwarding(trusted: readonly string[]): string[] {
  const acl = trusted.length > 0 ? `acl trusted_peer src ${trusted.join(' ')}` : 'acl trusted_peer always_false';
  return [
    `  ${acl}`,
    ...['X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host', 'Forwarded', 'X-Real-IP'].map(
      (h) => `  http-request del-header ${h} unless trusted_peer`,
    ),
    `  http-request set-header X-Real-IP %[src] unless { req.hdr(x-real-ip) -m found }`,
    `  http-request add-header X-Forwarded-For %[src]`,
    `  http-request set-header X-Forwarded-Proto http unless { req.hdr(x-forwarded-proto) -m found }`,
    `  http-request set-header X-Forwarded-Host %[req.hdr(host)] unless { req.hdr(x-forwarded-host) -m found }`,
    // RFC 7239: an IPv6 address is bracketed and quoted; the host is quoted (it may carry a port).
    `  http-request add-header Forwarded for=%[src];host=\\"%[req.hdr(host)]\\";proto=http if { src -m ip 0.0.0.0/0 }`,
    `  http-request add-header Forwarded for=\\"[%[src]]\\";host=\\"%[req.hdr(host)]\\";proto=http unless { src -m ip 0.0.0.0/0 }`,
  ];
}

export function renderConfig(s: DataPlaneSettings, apps: readonly PlannedApp[]): string {
  const hardStop = Math.max(s.reloadGraceSeconds, Math.max(...apps.map((a) => a.http.drainSeconds), 30) + 5);
  return [
    '# Written by the Sidecar PaaS router (router/src/haproxy/render-config.ts); edits are overwritten.',
    'global',
    `  nbthread ${s.threads}`,
    `  maxconn ${s.maxConnections}`,
    // Pipes for splicing cost two descriptors each: kept small so the total stays within the usual limits.
    `  maxpipes ${Math.max(64, Math.floor(s.maxConnections / 8))}`,
    `  stats socket ${s.adminSocket} mode 600 level admin expose-fd listeners`,
    // After a reload the old worker keeps its open connections (another tenant's reload must not cut an
    // app's WebSockets) this long at most, and only so many old workers are kept (each has its own memory).
    `  hard-stop-after ${hardStop}s`,
    `  mworker-max-reloads ${s.oldWorkersMax}`,
    ...(s.requestLog ? [`  log ring@access_log len ${LOG_LINE_MAX} format raw local0 info`] : []),
    `  lua-load-per-thread ${s.luaFile}`,
    '',
    // A ring buffers the lines (8 MB) while the router is away, e.g. restarting.
    'ring access_log',
    '  format raw',
    `  maxlen ${LOG_LINE_MAX}`,
    '  size 8388608',
    '  timeout connect 1s',
    '  timeout server 10s',
    `  server router 127.0.0.1:${s.logPort}`,
    '',
    'defaults',
    '  mode http',
    ...(s.requestLog ? ['  log global', `  log-format '${LOG_FORMAT}'`] : ['  no log']),
    `  timeout http-request ${seconds(s.headerTimeoutMs)}`,
    `  timeout http-keep-alive ${seconds(s.idleTimeoutMs)}`,
    `  timeout client ${seconds(s.idleTimeoutMs)}`,
    `  timeout connect ${seconds(s.connectTimeoutMs)}`,
    '  timeout server 60s',
    // An upgraded connection (WebSocket) may be idle this long.
    '  timeout tunnel 1h',
    '  timeout client-fin 30s',
    '  retries 3',
    '  option redispatch 1',
    // A connection that failed before anything was sent is retried for any method; a reused
    // connection the pod closed without answering only for requests that are safe to repeat.
    '  retry-on conn-failure empty-response',
    '  http-reuse safe',
    // Large bodies move between the sockets in the kernel (splice) when HAProxy sees it pays.
    '  option splice-auto',
    '',
    'frontend apps',
    `  bind ${s.host}:${s.port}`,
    `  maxconn ${s.maxConnections}`,
    // Hop-by-hop headers (RFC 9110 §7.6.1) HAProxy does not remove by itself, both ways.
    ...['req', 'res'].flatMap((dir) => {
      const rule = dir === 'req' ? 'http-request' : 'http-response';
      return [
        `  ${rule} del-header Keep-Alive`,
        `  ${rule} del-header Proxy-Connection`,
        `  ${rule} lua.drop_connection_headers_${dir} if { ${dir}.hdr(connection) -m reg -i ^(?!(close|keep-alive|upgrade)$) }`,
      ];
    }),
    '  http-response set-header X-Request-Id %[var(txn.rid)]',
    '  http-request set-var(txn.path) path',
    // RFC 9110 §9.2.2: only idempotent requests may be sent again after the pod took them and said nothing.
    '  http-request disable-l7-retry unless { method GET HEAD OPTIONS TRACE PUT DELETE }',
    '  http-request set-var(txn.rid) req.hdr(x-request-id) if { req.hdr(x-request-id) -m reg ^[A-Za-z0-9._:/+=-]{1,200}$ }',
    '  http-request set-var(txn.rid) uuid() unless { var(txn.rid) -m found }',
    '  http-request set-header X-Request-Id %[var(txn.rid)]',
    ...forwarding(s.trustedProxies),
    `  http-request set-var(txn.app) req.hdr(host),field(1,:),lower,map_str(${s.hostsMap})`,
    `  use_backend ${backendOf('%[var(txn.app)]')} if { var(txn.app) -m found }`,
    '  default_backend no_app',
    '',
    'backend no_app',
    `  http-request return status 404 ${problem(RouterProblem.appNotFound, `use http://<app>.${s.domain}/`)}`,
    '',
    `backend ${TABLE_IN_FLIGHT}`,
    '  stick-table type string len 64 size 100k store conn_cur',
    '',
    `backend ${TABLE_UPGRADED}`,
    '  stick-table type string len 64 size 100k store conn_cur',
    '',
    ...apps.map((a) => renderBackend(a, s.wakePort)),
  ].join('\n');
}
