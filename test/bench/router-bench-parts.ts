/**
 * The pieces of `npm run bench:router` (router.bench.ts): the pod, the proxies in front of it and
 * the load generators. Traffic goes to loopback only; every loop is bounded in time.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import WebSocket from 'ws';
import { quantile } from './deploy-bench-parts.js';

const run = promisify(execFile);

/** The pod's program: 12 bytes at `/`, 64 KiB at `/64k`, a WebSocket echo; `ws` mounted from the host's node_modules. */
const POD_SERVER = `
const http = require('node:http');
const { WebSocketServer } = require('/opt/ws');
const big = Buffer.alloc(64 * 1024, 120);
const server = http.createServer((req, res) => (req.url === '/64k' ? res.end(big) : res.end('hello world\\n')));
server.keepAliveTimeout = 65000;
new WebSocketServer({ server }).on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
server.listen(8080, () => console.log('pod listening'));
`;

/**
 * A container of the platform's runtime image serving POD_SERVER on a bridge network, reached at its IP as
 * the router reaches pods, and also on a port published on loopback (through Docker's userland proxy).
 */
export async function startPod(
  docker: Docker,
  image: string,
  wsDir: string,
): Promise<{ ip: string; port: number; remove(): Promise<void> }> {
  const c = await docker.createContainer({
    Image: image,
    Entrypoint: ['node', '-e', POD_SERVER],
    ExposedPorts: { '8080/tcp': {} },
    Labels: { 'sidecar.paas/bench': 'router' },
    HostConfig: {
      PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
      Binds: [`${wsDir}:/opt/ws:ro`],
    },
  });
  await c.start();
  const info = await c.inspect();
  const port = Number(info.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort);
  const ip = Object.values(info.NetworkSettings.Networks)[0]?.IPAddress ?? '';
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((r) =>
      http.get({ host: '127.0.0.1', port, path: '/' }, (res) => r(res.statusCode === 200)).on('error', () => r(false)),
    );
    if (ok) return { ip, port, remove: () => c.remove({ force: true }) };
    await new Promise((r) => setTimeout(r, 100));
  }
  await c.remove({ force: true });
  throw new Error('bench: the pod did not answer');
}

/**
 * nginx from the distribution as peers set it up: 1 worker, keep-alive upstream, WebSocket upgrades;
 * with `accessLog`, one line per request to a file, as Dokku and CapRover keep it (nginx's default
 * format, buffered writes: what nginx does to log cheaply).
 */
export async function startNginx(
  parent: string,
  opts: { port: number; pod: string; accessLog: boolean },
): Promise<{ pid: number; stop(): Promise<void> }> {
  const { port, pod } = opts;
  const dir = join(parent, `nginx-${port}`);
  mkdirSync(dir);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log ${opts.accessLog ? `${dir}/access.log combined buffer=64k flush=1s` : 'off'};
  upstream pod { server ${pod}; keepalive 64; }
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://pod;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
    }
  }
}
`,
  );
  await run('nginx', ['-c', conf, '-p', dir]);
  return {
    pid: Number(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim()),
    stop: async () => void (await run('nginx', ['-c', conf, '-p', dir, '-s', 'stop']).catch(() => undefined)),
  };
}

/**
 * HAProxy with nothing but proxying (one thread, keep-alive upstream, no rules, no log): the floor of
 * what any configuration of this data plane costs on this machine, to read the router's figures against.
 */
export async function startBareHaproxy(
  parent: string,
  opts: { port: number; pod: string },
): Promise<{ pid: number; stop(): Promise<void> }> {
  const dir = join(parent, `haproxy-bare-${opts.port}`);
  mkdirSync(dir);
  const conf = join(dir, 'haproxy.cfg');
  writeFileSync(
    conf,
    `global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
  http-reuse safe
frontend bare
  bind 127.0.0.1:${opts.port}
  default_backend pod
backend pod
  server pod ${opts.pod}
`,
  );
  const pidFile = join(dir, 'haproxy.pid');
  await run('haproxy', ['-D', '-f', conf, '-p', pidFile]);
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return {
    pid,
    stop: async () => {
      if (pid > 0) process.kill(pid, 'SIGTERM');
    },
  };
}

export interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time the measured processes used per request (µs), when `cpuOf` was given. */
  cpuUsPerRequest: number;
  /** Of that, the CPU time of the processes `ownOf` named, without their descendants (µs per request; NaN without). */
  ownCpuUsPerRequest: number;
  raw: string;
}

const toMs = (v: string, unit: string) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[unit]!;

/**
 * `cpuOf`: the processes whose CPU time to count (their descendants too) while wrk runs: the proxy of the path,
 * so that paths compare by what a request costs them, which the machine's noise moves less than requests/s.
 * `ownOf`: processes whose own share of that to print apart (the router's Node process, without its HAProxy).
 */
export async function wrk(
  url: string,
  connections: number,
  seconds: number,
  cpuOf?: () => number[],
  ownOf?: () => number[],
): Promise<WrkResult> {
  const args = ['-t', connections > 64 ? '2' : '1', '-c', String(connections), '-d', `${seconds}s`, '--latency'];
  const own = () => (ownOf ? cpuMs(ownOf(), { descendants: false }) : NaN);
  const cpuBefore = cpuOf ? cpuMs(cpuOf()) : NaN;
  const ownBefore = own();
  const { stdout } = await run('wrk', [...args, '-H', 'Host: bench.localhost', url], { maxBuffer: 1 << 20 });
  const cpuUsed = cpuOf ? cpuMs(cpuOf()) - cpuBefore : NaN;
  const ownUsed = own() - ownBefore;
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const p = (q: string) => {
    // wrk pads its latency lines with trailing spaces.
    const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(stdout);
    return m ? toMs(m[1]!, m[2]!) : NaN;
  };
  const cpuUsPerRequest = (cpuUsed * 1000) / requests;
  const ownCpuUsPerRequest = (ownUsed * 1000) / requests;
  const cpuLine = cpuOf
    ? `CPU time of the path's processes: ${cpuUsed} ms, ${cpuUsPerRequest.toFixed(2)} µs per request${
        ownOf
          ? `; of which the router process itself ${ownUsed} ms, ${ownCpuUsPerRequest.toFixed(2)} µs per request`
          : ''
      }\n`
    : '';
  return {
    rps,
    p50Ms: p('50'),
    p99Ms: p('99'),
    cpuUsPerRequest,
    ownCpuUsPerRequest,
    raw: `$ wrk ${args.join(' ')} ${url}\n${stdout}${cpuLine}`,
  };
}

/** WebSocket echo: `connections` clients, each sending its next message when the echo arrived. */
export async function wsEcho(url: string, connections: number, seconds: number): Promise<number> {
  const sockets = await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url, { headers: { host: 'bench.localhost' } });
          ws.once('open', () => resolve(ws)).once('error', reject);
        }),
    ),
  );
  let count = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          ws.on('message', () => {
            count++;
            if (performance.now() < end) ws.send('ping');
            else resolve();
          });
          ws.send('ping');
        }),
    ),
  );
  for (const ws of sockets) ws.close();
  return count / seconds;
}

/** Requests at a fixed rate over keep-alive connections; latency from the scheduled send (no coordinated omission). */
export async function paced(
  host: string,
  port: number,
  ratePerSecond: number,
  seconds: number,
): Promise<{ p50Ms: number; p99Ms: number; failed: number; latencies: number[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const latencies: number[] = [];
  let failed = 0;
  const total = ratePerSecond * seconds;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // From the scheduled time (a late send counts its wait: no coordinated omission), or from the send
    // when it went out early (the timer's last millisecond is not waited for).
    const from = Math.min(due, performance.now());
    inFlight.push(
      new Promise<void>((resolve) => {
        http
          .get({ host, port, path: '/', agent, headers: { host: 'bench.localhost' } }, (res) => {
            res.resume();
            res.on('end', () => {
              latencies.push(performance.now() - from);
              resolve();
            });
          })
          .on('error', () => {
            failed++;
            resolve();
          });
      }),
    );
  }
  await Promise.all(inFlight);
  agent.destroy();
  return { p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), failed, latencies };
}

export function startProcess(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  readyLine: RegExp,
  log: string,
): Promise<ChildProcess> {
  const out = openSync(log, 'a');
  const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', out] });
  return new Promise((resolve, reject) => {
    let seen = '';
    child.once('exit', (code) => reject(new Error(`${cmd} exited with ${code}; see ${log}`)));
    const onData = (b: Buffer) => {
      seen += b.toString();
      if (!readyLine.test(seen)) return;
      // From now on its output goes to the log as it comes (the router's access log: as the launcher
      // passes it through, one write per read).
      const file = createWriteStream(log, { flags: 'a' });
      file.write(seen);
      child.stdout!.off('data', onData).pipe(file);
      resolve(child);
    };
    child.stdout!.on('data', onData);
  });
}

const TICK_MS = 10; // USER_HZ is 100 on Linux (getconf CLK_TCK)

/**
 * The CPU time (user + system, ms) these processes and all their descendants (with `descendants: false`, the
 * processes alone) have used so far, from /proc.
 */
export function cpuMs(roots: readonly number[], { descendants = true } = {}): number {
  const children = new Map<number, number[]>();
  const stats = new Map<number, string[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // The fields after the command name, which may hold spaces and parentheses: state, ppid, …
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    stats.set(pid, fields);
    const ppid = Number(fields[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  let ticks = 0;
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const fields = stats.get(pid);
    // utime and stime: fields 14 and 15 of the line, 11 and 12 after the command name.
    if (fields) ticks += Number(fields[11]) + Number(fields[12]);
    if (descendants) queue.push(...(children.get(pid) ?? []));
  }
  return ticks * TICK_MS;
}

/** Docker's userland proxy serving a published host port (the engine runs one process per port). */
export function dockerProxyOf(hostPort: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('docker-proxy') && args[args.indexOf('-host-port') + 1] === String(hostPort))
        pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
