/**
 * `npm run bench:router`: in one run on this machine, side by side, straight to a pod, through the
 * router (HAProxy driven by the router's control loop) and through nginx from Debian set up as peers do
 * (1 worker, keep-alive upstream): requests/s and p50/p99 latency with wrk at 32 and 256 connections for
 * a 12-byte and a 64 KiB answer, WebSocket echo messages/s, and the latency the router adds at a fixed
 * 1,000 requests/s. The raw output is written to docs/benchmarks/. No assertion: timing is not a test.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Docker from 'dockerode';
import { connectRedis, createStores } from '@sidecar/store';
import { ensurePlatformImages } from '@sidecar/runtime-image';
import { freePort } from '../support/global-setup.js';
import {
  paced,
  startBareHaproxy,
  startNginx,
  startPod,
  startProcess,
  wrk,
  dockerProxyOf,
  type WrkResult,
  wsEcho,
} from './router-bench-parts.js';
import { quantile, runHeader } from './deploy-bench-parts.js';

const root = join(import.meta.dirname, '../..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** Each round of the paced part: 10,000 requests at 1,000 a second. */
const PACED_SECONDS = Number(process.env.BENCH_PACED_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Which parts run (comma-separated): `wrk` (requests/s), `ws` (WebSocket echo), `paced` (1,000 requests/s); all by default. */
const PARTS = new Set((process.env.BENCH_PARTS ?? 'wrk,ws,paced').split(','));
/** Which cases of the `wrk` part run: answers (`12B`, `64KiB`) and connection counts (comma-separated); all by default. */
const ANSWERS = new Set((process.env.BENCH_ANSWERS ?? '12B,64KiB').split(','));
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '32,256').split(',').map(Number);
if (!CONNECTIONS.every((n) => Number.isInteger(n) && n > 0))
  throw new Error(`BENCH_CONNECTIONS: whole numbers above 0, comma-separated (got ${process.env.BENCH_CONNECTIONS})`);
/**
 * Another build of the router to measure beside this one (`router-baseline`): the path of its `main.js`, e.g. of a
 * `git worktree` of an earlier commit after `npx tsc -b router` there. A change is then compared side by side in
 * the same run, not against a figure of another run on this noisy host.
 */
const BASELINE = process.env.BENCH_BASELINE_ROUTER;
/** The router refuses admin tokens shorter than 16 characters. */
const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789';
/**
 * `direct`: straight to the pod's IP, as the router reaches pods; `direct-published`: to the port the pod
 * publishes on loopback, through Docker's userland proxy (docker-proxy), what "direct" meant before 2026-12-05 22:12;
 * `router`: as by default, its access log to a file; `router-stdout`: printing the access log instead (read by
 * this script, as the launcher reads it); `router-nolog`: SIDECAR_ROUTER_REQUEST_LOG=off (no access log, no
 * request metrics);
 * `nginx-log`: nginx with its access log on, as the router has its own by default; `haproxy-bare`:
 * HAProxy proxying with no rules and no log, the floor of any configuration of the router's data plane;
 * `router-baseline`: the router as by default, from the build named by BENCH_BASELINE_ROUTER (only then).
 */
const ALL_PATHS = [
  'direct',
  'direct-published',
  'router',
  'router-baseline',
  'router-stdout',
  'router-nolog',
  'nginx',
  'nginx-log',
  'haproxy-bare',
] as const;
type Path = (typeof ALL_PATHS)[number];
const PATHS = ALL_PATHS.filter((p) => p !== 'router-baseline' || BASELINE);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** A command's first line of output, stdout or stderr (version banners go to either). */
const sh = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
};

/** The commit of the baseline's checkout, and whether its tracked files differ from it (its build may not match). */
function baselineCommit(dir: string): string {
  const dirty = sh('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no']);
  return `commit ${sh('git', ['-C', dir, 'rev-parse', 'HEAD'])}${dirty ? ' (with uncommitted changes)' : ''}`;
}

async function main(): Promise<void> {
  const raw: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bench-router-'));
  const docker = new Docker();
  const cleanups: (() => Promise<unknown> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  const header = [
    ...runHeader('router benchmark'),
    `${sh('haproxy', ['-v'])}; ${sh('nginx', ['-v'])}; ${sh('wrk', ['-v'])}`,
    `wrk, the pod, the router or nginx, and this script share the machine's cores.`,
    ...(BASELINE ? [`router-baseline: ${BASELINE}, ${baselineCommit(dirname(BASELINE))}`] : []),
  ];
  raw.push(...header, '');
  try {
    const images = await ensurePlatformImages({ docker, log: () => undefined });
    const pod = await startPod(docker, images.runtimeNode, join(root, 'node_modules/ws'));
    cleanups.push(pod.remove);

    const redisPort = await freePort();
    const redis: ChildProcess = await startProcess(
      'redis-server',
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      process.env,
      /Ready to accept connections/,
      join(dir, 'redis.log'),
    );
    cleanups.push(() => void redis.kill('SIGKILL'));
    const redisUrl = `redis://127.0.0.1:${redisPort}`;

    // The router as configured by default (access log to a file), printing its access log instead (its output
    // read by this script, as the launcher reads it), and with its request log off; the baseline build when asked.
    const routers: Record<'router' | 'router-stdout' | 'router-nolog', { port: number; pid: number }> &
      Partial<Record<'router-baseline', { port: number; pid: number }>> = {
      router: await startRouterProcess('router', {}),
      'router-stdout': await startRouterProcess('router-stdout', { SIDECAR_ROUTER_ACCESS_LOG: 'stdout' }),
      'router-nolog': await startRouterProcess('router-nolog', { SIDECAR_ROUTER_REQUEST_LOG: 'off' }),
      ...(BASELINE ? { 'router-baseline': await startRouterProcess('router-baseline', {}, BASELINE) } : {}),
    };
    async function startRouterProcess(
      name: string,
      env: Record<string, string>,
      main = join(root, 'router/dist/main.js'),
    ) {
      const port = await freePort();
      const child = await startProcess(
        process.execPath,
        [main],
        {
          ...process.env,
          SIDECAR_REDIS_URL: redisUrl,
          SIDECAR_REDIS_PREFIX: 'bench:',
          SIDECAR_DATA_DIR: join(dir, name),
          SIDECAR_ROUTER_PORT: String(port),
          SIDECAR_ROUTER_TLS_PORT: String(await freePort()),
          SIDECAR_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
          ...env,
        },
        /listening on http/,
        join(dir, `${name}.log`),
      );
      const exited = new Promise((r) => child.once('exit', r));
      cleanups.push(async () => {
        child.kill('SIGTERM');
        await exited;
      });
      return { port, pid: child.pid! };
    }
    const conn = connectRedis(redisUrl);
    const stores = createStores(conn, 'bench:');
    await stores.routes.set('bench', [{ pod: 'bench-pod', address: `${pod.ip}:8080` }]);
    cleanups.push(async () => {
      await stores.close();
      await conn.quit();
    });

    const peer = async <T extends { pid: number; stop(): Promise<void> }>(started: Promise<T>) => {
      const p = await started;
      cleanups.push(p.stop);
      return p;
    };
    const [nginxPort, nginxLogPort, barePort] = [await freePort(), await freePort(), await freePort()];
    const nginx = await peer(startNginx(dir, { port: nginxPort, pod: `${pod.ip}:8080`, accessLog: false }));
    const nginxLog = await peer(startNginx(dir, { port: nginxLogPort, pod: `${pod.ip}:8080`, accessLog: true }));
    const bare = await peer(startBareHaproxy(dir, { port: barePort, pod: `${pod.ip}:8080` }));
    const at = (port: number, host = '127.0.0.1') => ({ host, port });
    const addressOf: Record<Path, { host: string; port: number }> = {
      direct: at(8080, pod.ip),
      'direct-published': at(pod.port),
      router: at(routers.router.port),
      'router-stdout': at(routers['router-stdout'].port),
      'router-nolog': at(routers['router-nolog'].port),
      // Port 0 when there is no baseline: the path is then not in PATHS, never measured.
      'router-baseline': at(routers['router-baseline']?.port ?? 0),
      nginx: at(nginxPort),
      'nginx-log': at(nginxLogPort),
      'haproxy-bare': at(barePort),
    };
    // Whose CPU time a request of each path costs: the proxy's processes (HAProxy's under the router process),
    // and this script, which reads the output of `router-stdout` as the launcher would.
    const proxyOf: Record<Path, () => number[]> = {
      direct: () => [],
      'direct-published': () => dockerProxyOf(pod.port),
      router: () => [routers.router.pid],
      'router-stdout': () => [routers['router-stdout'].pid],
      'router-nolog': () => [routers['router-nolog'].pid],
      'router-baseline': () => (routers['router-baseline'] ? [routers['router-baseline'].pid] : []),
      nginx: () => [nginx.pid],
      'nginx-log': () => [nginxLog.pid],
      'haproxy-bare': () => [bare.pid],
    };
    const cpuOf = (path: Path) => () => [...proxyOf[path](), process.pid];
    // The router paths' Node process apart from its HAProxy: what the control loop and the request log cost it.
    const ownOf = (path: Path) => (path.startsWith('router') ? () => proxyOf[path]() : undefined);
    const url = (path: Path, rest: string, scheme = 'http') =>
      `${scheme}://${addressOf[path].host}:${addressOf[path].port}${rest}`;

    // Warm every path (keep-alive pools, JIT) before measuring.
    for (const path of PATHS) await wrk(url(path, '/'), 32, 1);

    const table: string[] = [
      '| answer | connections | path | requests/s (median) | share of direct | p50 ms | p99 ms | proxy CPU µs per request (median) | of which the router process (median) |',
      '|---|---|---|---|---|---|---|---|---|',
    ];
    for (const [label, urlPath] of PARTS.has('wrk')
      ? (
          [
            ['12 B', '/'],
            ['64 KiB', '/64k'],
          ] as const
        ).filter(([l]) => ANSWERS.has(l.replace(' ', '')))
      : [])
      for (const connections of CONNECTIONS) {
        const results = Object.fromEntries(PATHS.map((x) => [x, [] as WrkResult[]])) as Record<Path, WrkResult[]>;
        for (let round = 0; round < ROUNDS; round++)
          // A different order each round: no path always runs first or last.
          for (const path of PATHS.map((_, i) => PATHS[(i + round) % PATHS.length]!)) {
            const r = await wrk(url(path, urlPath), connections, SECONDS, cpuOf(path), ownOf(path));
            results[path].push(r);
            raw.push(`## ${label}, ${connections} connections, ${path}, round ${round + 1}`, r.raw);
          }
        const direct = median(results.direct.map((r) => r.rps));
        for (const path of PATHS) {
          const rps = median(results[path].map((r) => r.rps));
          table.push(
            `| ${label} | ${connections} | ${path} | ${Math.round(rps).toLocaleString('en')} | ${Math.round((100 * rps) / direct)} % | ${median(results[path].map((r) => r.p50Ms)).toFixed(2)} | ${median(results[path].map((r) => r.p99Ms)).toFixed(2)} | ${median(results[path].map((r) => r.cpuUsPerRequest)).toFixed(1)} | ${ownOf(path) ? median(results[path].map((r) => r.ownCpuUsPerRequest)).toFixed(1) : ''} |`,
          );
        }
      }

    table.push('', '| WebSocket echo, 32 connections | messages/s (median) | share of direct |', '|---|---|---|');
    const ws = Object.fromEntries(PATHS.map((x) => [x, [] as number[]])) as Record<Path, number[]>;
    for (let round = 0; round < (PARTS.has('ws') ? ROUNDS : 0); round++)
      for (const path of PATHS) ws[path].push(await wsEcho(url(path, '/ws', 'ws'), 32, SECONDS));
    raw.push(`## WebSocket echo messages/s per round: ${JSON.stringify(ws)}`);
    for (const path of PARTS.has('ws') ? PATHS : [])
      table.push(
        `| ${path} | ${Math.round(median(ws[path])).toLocaleString('en')} | ${Math.round((100 * median(ws[path])) / median(ws.direct))} % |`,
      );

    table.push(
      '',
      `| 1,000 requests/s, ${ROUNDS} rounds of ${PACED_SECONDS} s | p50 ms (all rounds' samples) | p99 ms (all rounds' samples) | p99 ms of each round | failed |`,
      '|---|---|---|---|---|',
    );
    const pacedPaths = (
      ['direct', 'direct-published', 'router', 'router-baseline', 'router-nolog', 'nginx-log'] as const
    ).filter((p) => PATHS.includes(p));
    const pacedRuns = Object.fromEntries(pacedPaths.map((x) => [x, [] as Awaited<ReturnType<typeof paced>>[]]));
    for (let round = 0; round < (PARTS.has('paced') ? ROUNDS : 0); round++)
      for (const path of pacedPaths.map((_, i) => pacedPaths[(i + round) % pacedPaths.length]!)) {
        const r = await paced(addressOf[path].host, addressOf[path].port, 1000, PACED_SECONDS);
        raw.push(
          `## paced 1000 req/s ${path}, round ${round + 1}: ${JSON.stringify({ p50Ms: r.p50Ms, p99Ms: r.p99Ms, failed: r.failed, samples: r.latencies.length })}`,
        );
        pacedRuns[path]!.push(r);
      }
    for (const path of pacedPaths) {
      const rs = pacedRuns[path]!;
      if (rs.length === 0) continue;
      // Pooled: one round's p99 is its 1 % slowest requests, which a hiccup of the shared machine decides.
      const all = rs.flatMap((r) => r.latencies);
      table.push(
        `| ${path} | ${quantile(all, 0.5).toFixed(2)} | ${quantile(all, 0.99).toFixed(2)} | ${rs.map((r) => r.p99Ms.toFixed(2)).join(', ')} | ${rs.reduce((a, r) => a + r.failed, 0)} |`,
      );
    }
    raw.push(
      '',
      `load average at the end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
      '',
      ...table,
    );
    console.log([...header, '', ...table].join('\n'));
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    const file = join(
      root,
      'docs/benchmarks',
      `router-${new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-')}.txt`,
    );
    writeFileSync(file, `${raw.join('\n')}\n`);
    console.log(`raw output: ${file}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
