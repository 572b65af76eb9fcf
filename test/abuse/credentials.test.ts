import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { networkCreateOptions, POD_NETWORK } from '@sidecar/kubelet';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { type Bystander, expectUnharmed, startBystander } from '../support/bystander.js';
import { createApp, deploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { freePort } from '../support/global-setup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { deployerToken, expectProblem } from '../support/problems.js';

/*
 * Credentials and the platform's own endpoints (issue 14, finding 8): `/metrics` of every platform
 * process that has one (the API's and the router's; the worker serves nothing) needs the admin token
 * or is on loopback only, and an app's code reaches neither them nor Redis. The API is bound here
 * where app pods can reach it — the address of their bridge on the host, as an API served to remote
 * users (0.0.0.0) would be — so the test can show that what a pod reaches of it asks for a token; Redis
 * and the router's metrics stay on the host's loopback, which no pod shares. A probe app reports what
 * it got from each; the test then lists every TCP port a platform process listens on. A bystander app
 * of another tenant keeps serving meanwhile.
 */
const docker = new Docker();
const APP = 'snoop';
let p: RunningPlatform;
let bystander: Bystander;
let gateway: string;
let redisPort: number;
let metricsPort: number;

/** Tries each target without credentials, as code in a pod would, and answers what came back. */
const probe = `
const http = require('http'), net = require('net');
const get = (t) => new Promise((resolve) => {
  const req = http.get({ host: t.host, port: t.port, path: t.path, timeout: 3000 }, (res) => {
    res.resume();
    resolve({ status: res.statusCode });
  });
  req.on('timeout', () => { req.destroy(); resolve({ error: 'ETIMEDOUT' }); });
  req.on('error', (e) => resolve({ error: e.code }));
});
const ping = (t) => new Promise((resolve) => {
  const s = net.connect({ host: t.host, port: t.port, timeout: 3000 }, () => s.write('PING\\r\\n'));
  s.on('data', (d) => { s.destroy(); resolve({ reply: d.toString().trim() }); });
  s.on('timeout', () => { s.destroy(); resolve({ error: 'ETIMEDOUT' }); });
  s.on('error', (e) => resolve({ error: e.code }));
});
require('http').createServer(async (req, res) => {
  const q = new URL(req.url, 'http://x').searchParams.get('targets');
  if (!q) return res.end('snoop ready');
  const targets = JSON.parse(Buffer.from(q, 'base64url').toString());
  const out = {};
  for (const t of targets) out[t.name] = await (t.redis ? ping(t) : get(t));
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(out));
}).listen(process.env.PORT);
`;

beforeAll(async () => {
  gateway = await podNetworkGateway();
  redisPort = await freePort();
  metricsPort = await freePort();
  p = await startPlatform(
    { SIDECAR_EMBEDDED_REDIS_PORT: String(redisPort), SIDECAR_ROUTER_METRICS_PORT: String(metricsPort) },
    { apiHost: gateway },
  );
  bystander = await startBystander(p);
  await createApp(p, APP);
  const d = await deploy(p, APP, await tgzOf({ 'sidecar.json': '{"start":"node server.js"}', 'server.js': probe }));
  expect(d.deploy.status, d.log).toBe('succeeded');
}, 240_000);
afterAll(async () => {
  await bystander?.stop();
  await stopPlatform(p);
}, 120_000);

const routerMetrics = (authorization?: string) =>
  fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: authorization ? { authorization } : {} });
const apiMetrics = (authorization?: string) =>
  fetch(`${p.api}/metrics`, { headers: authorization ? { authorization } : {} });

describe('/metrics of the platform processes', () => {
  it("the router's: loopback only, and the admin token, not a deployer's", async () => {
    const deployer = await deployerToken(p, 'metrics-reader');
    expect((await routerMetrics()).status).toBe(401);
    expect((await routerMetrics('Bearer wrong')).status).toBe(401);
    expect((await routerMetrics(`Bearer ${deployer}`)).status).toBe(401);
    const ok = await routerMetrics(`Bearer ${p.token}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^# HELP /m);
  });

  it("the API's, from an address other than loopback: 401 without the admin token", async () => {
    const deployer = await deployerToken(p, 'api-metrics-reader');
    await expectProblem(await apiMetrics(), 401, 'unauthorized', /\/metrics needs the admin token/);
    await expectProblem(await apiMetrics(`Bearer ${deployer}`), 401, 'unauthorized', /admin token/);
    const ok = await apiMetrics(`Bearer ${p.token}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^# TYPE sidecar_http_requests_total counter$/m);
  });
});

describe("an app's code looking for the platform's credentials and state", () => {
  it("reaches no Redis and no router metrics (the host's loopback); the API it reaches asks for a token", async () => {
    const apiPort = Number(new URL(p.api).port);
    const at = (host: string) => (host === gateway ? 'host' : 'pod loopback');
    const targets = ['127.0.0.1', gateway].flatMap((host) => [
      { name: `redis via ${at(host)}`, host, port: redisPort, redis: true },
      { name: `router metrics via ${at(host)}`, host, port: metricsPort, path: '/metrics' },
      { name: `api metrics via ${at(host)}`, host, port: apiPort, path: '/metrics' },
      { name: `api apps via ${at(host)}`, host, port: apiPort, path: '/api/v1/apps' },
      { name: `api health via ${at(host)}`, host, port: apiPort, path: '/healthz' },
    ]);
    const res = await p.get(APP, `/?targets=${Buffer.from(JSON.stringify(targets)).toString('base64url')}`);
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body) as Record<string, { status?: number; reply?: string; error?: string }>;
    const refused = { error: expect.stringMatching(/^(ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/) };
    expect(seen).toEqual({
      // Redis and the router's metrics listen on the host's loopback: from a pod, nothing answers.
      'redis via pod loopback': refused,
      'redis via host': refused,
      'router metrics via pod loopback': refused,
      'router metrics via host': refused,
      // The API is not on the pod's loopback; on the host's address it answers, and asks for a token.
      'api metrics via pod loopback': refused,
      'api apps via pod loopback': refused,
      'api health via pod loopback': refused,
      'api metrics via host': { status: 401 },
      'api apps via host': { status: 401 },
      'api health via host': { status: 200 }, // reachable indeed: the 401s are the API's answers
    });
  });

  it('no platform process listens on any address but loopback, except the API where it was bound; the worker on none', async () => {
    const pids = p.pids();
    const listening = (name: string) => listenersOf(descendants(pids[name]!));
    expect(listening('worker')).toEqual([]);
    expect(listening('api')).toEqual([`${gateway}:${new URL(p.api).port}`]);
    for (const name of ['router', 'redis']) {
      const addresses = listening(name);
      expect(addresses.length, name).toBeGreaterThan(0);
      for (const a of addresses) expect(a, name).toMatch(/^(127\.\d+\.\d+\.\d+|\[::1\]):\d+$/);
    }
    expect(listening('router')).toContain(`127.0.0.1:${metricsPort}`);
    expect(listening('redis')).toContain(`127.0.0.1:${redisPort}`);
  });
});

describe('while all of that ran', () => {
  it('the bystander app served every request and the API answered every health check', async () => {
    expectUnharmed(await bystander.stop());
  });
});

/** The host's address on the pods' bridge (made as the kubelet makes it, if no pod made it yet). */
async function podNetworkGateway(): Promise<string> {
  const network = docker.getNetwork(POD_NETWORK);
  const existing = await network.inspect().catch(() => undefined);
  if (!existing) await docker.createNetwork(networkCreateOptions()).catch(() => undefined); // or a racer made it
  const info = (await network.inspect()) as { IPAM: { Config: Array<{ Gateway?: string }> } };
  const found = info.IPAM.Config.find((c) => c.Gateway)?.Gateway;
  if (!found) throw new Error(`${POD_NETWORK} has no gateway address`);
  return found;
}

/** `pid` and every process it started, and they started (from /proc/<pid>/task/<tid>/children). */
function descendants(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    for (const task of readdirSync(`/proc/${out[i]}/task`)) {
      const children = readFileSync(`/proc/${out[i]}/task/${task}/children`, 'utf8').trim();
      if (children) out.push(...children.split(' ').map(Number));
    }
  }
  return out;
}

/** `address:port` of every TCP socket in LISTEN state the processes hold open. */
function listenersOf(pids: number[]): string[] {
  const inodes = new Set<string>();
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return ''; // closed since the listing
        }
      })();
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode) inodes.add(inode);
    }
  }
  const out: string[] = [];
  for (const [file, v6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    for (const line of readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] !== '0A' || !inodes.has(f[9]!)) continue; // 0A: LISTEN
      const [hex, port] = f[1]!.split(':') as [string, string];
      out.push(`${v6 ? `[${ipv6(hex)}]` : ipv4(hex)}:${Number.parseInt(port, 16)}`);
    }
  }
  return out.sort();
}

/** /proc/net/tcp writes an IPv4 address as one little-endian 32-bit hex word. */
const ipv4 = (hex: string) =>
  (hex.match(/../g) ?? [])
    .map((b) => Number.parseInt(b, 16))
    .reverse()
    .join('.');

/** …and an IPv6 address as four such words; shown compressed only for the two cases that matter. */
function ipv6(hex: string): string {
  const bytes = (hex.match(/.{8}/g) ?? []).flatMap((w) => (w.match(/../g) ?? []).reverse());
  const groups = Array.from({ length: 8 }, (_, i) => `${bytes[2 * i]}${bytes[2 * i + 1]}`.replace(/^0+(?=.)/, ''));
  const text = groups.join(':');
  if (text === '0:0:0:0:0:0:0:1') return '::1';
  if (text === '0:0:0:0:0:0:0:0') return '::';
  return text;
}
