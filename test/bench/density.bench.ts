/**
 * `npm run bench:density`: what the platform itself and each idle hello app cost in memory, one run on this
 * machine, written to docs/benchmarks/density-<time>.txt with the commit and the machine's load.
 * - the idle platform: resident memory (VmRSS from /proc) of every process the launcher runs (API, router
 *   and its HAProxy, worker, Redis and the launcher's own helpers), sampled after it settled with no app;
 *   summed, and as the distinct physical pages those processes map (each page once: the sum of VmRSS counts
 *   the pages of the `node` binary and shared libraries once per process, though they are in memory once);
 * - an idle hello app: the resident memory of every process its pod runs (runtime, logic sidecar, log
 *   shipper, the network holder it joined, the engine's shim per container), BENCH_APPS of them deployed
 *   and left without traffic;
 * - how many such apps fit per GiB beside the platform;
 * - each platform sidecar's processes, from one more hello app with all of them on (logs, tls, procinfo).
 * Raw samples first, then medians. No assertion: a figure is not a test.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { Labels } from '@sidecar/core';
import { NETNS_HOLDER_LABEL, PLATFORM_LABEL } from '@sidecar/kubelet';
import { ensurePlatformImages } from '@sidecar/runtime-image';
import { tgzOf } from '../support/bundles.js';
import { createApp, deploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { startPlatform } from '../support/platform.js';
import { quantile, runHeader } from './deploy-bench-parts.js';

const APPS = Number(process.env.BENCH_APPS ?? 10);
const SAMPLES = 5;
const SETTLE_MS = 10_000;
const docker = new Docker();
const out: string[] = [];
const say = (line: string) => {
  out.push(line);
  console.log(line);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (kib: number) => (kib / 1024).toFixed(1);

/** A number of /proc/<pid>/status (`VmRSS` in KiB, `PPid`); 0 once the process has gone. */
function statusField(pid: number, key: 'VmRSS' | 'PPid'): number {
  try {
    return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
const rssKiB = (pid: number) => statusField(pid, 'VmRSS');

const PAGE_KIB = 4;
const PFN_MASK = (1n << 55n) - 1n;

/**
 * The physical pages (frame numbers) a process has resident, from /proc/<pid>/pagemap (bit 63: present;
 * bits 0-54: the frame; readable with the frame numbers only as root, which the benches run as). The union of
 * these sets over processes is the memory they occupy together, shared pages counted once.
 */
function residentFrames(pid: number, into: Set<number>): void {
  let fd: number;
  let maps: string[];
  try {
    maps = readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n');
    fd = openSync(`/proc/${pid}/pagemap`, 'r');
  } catch {
    return; // gone meanwhile
  }
  const chunk = 65_536; // pages per read
  const buf = Buffer.alloc(chunk * 8);
  try {
    for (const line of maps) {
      if (line.endsWith('[vsyscall]')) continue; // outside the user address space pagemap covers
      const [startHex = '0', endHex = '0'] = (line.split(' ')[0] ?? '').split('-');
      const start = BigInt(`0x${startHex}`);
      const end = BigInt(`0x${endHex}`);
      const first = Number(start / 4096n);
      const pages = Number((end - start) / 4096n);
      for (let off = 0; off < pages; off += chunk) {
        const n = Math.min(chunk, pages - off);
        const got = readSync(fd, buf, 0, n * 8, (first + off) * 8);
        for (let i = 0; i < got / 8; i++) {
          const entry = buf.readBigUInt64LE(i * 8);
          if (entry >> 63n) into.add(Number(entry & PFN_MASK));
        }
      }
    }
  } catch {
    // the process exited while being read: what was read stands
  } finally {
    closeSync(fd);
  }
}

/** KiB of memory the processes occupy together: each resident physical page once. */
function distinctKiB(pids: number[]): number {
  const frames = new Set<number>();
  for (const pid of pids) residentFrames(pid, frames);
  // Without CAP_SYS_ADMIN the kernel reports every frame as 0.
  if (frames.size === 1 && frames.has(0)) throw new Error('reading frame numbers from pagemap needs root');
  return frames.size * PAGE_KIB;
}

/** `pid` and every process below it, from /proc's parent links. */
function processTree(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name may hold spaces and parentheses: the fields after its last ')' are fixed.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  return tree;
}

const commandOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 90);
  } catch {
    return '?';
  }
};

/**
 * The host pids of every process one app's pods run, named by container: each running container's processes,
 * the engine's shim for it (containerd-shim-runc-v2, the parent of its first process: one per container on
 * Docker 20.10), and the warm network holder a pod joined (its pause process and shim).
 */
async function podProcesses(platformId: string, app: string): Promise<{ container: string; pid: number }[]> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${PLATFORM_LABEL}=${platformId}`, `${Labels.app}=${app}`] },
  });
  const found: { container: string; pid: number }[] = [];
  const add = async (id: string, name: string) => {
    const info = await docker.getContainer(id).inspect();
    if (!info.State.Running) return; // a pause record that joined a holder never runs
    const top = await docker.getContainer(id).top({ ps_args: '-o pid' });
    for (const row of top.Processes ?? []) found.push({ container: name, pid: Number(row[0]) });
    const shim = statusField(info.State.Pid, 'PPid');
    if (shim > 0 && commandOf(shim).includes('containerd-shim')) found.push({ container: `${name} (shim)`, pid: shim });
  };
  for (const c of containers) {
    const holder = c.Labels[NETNS_HOLDER_LABEL];
    if (holder !== undefined) await add(holder, 'network holder');
    await add(c.Id, c.Labels[Labels.container] ?? c.Labels[Labels.role] ?? c.Id);
  }
  return found;
}

const podPids = async (platformId: string, app: string) => (await podProcesses(platformId, app)).map((x) => x.pid);

async function main(): Promise<void> {
  for (const line of runHeader('density benchmark')) say(line);
  await ensurePlatformImages({ docker });
  const p = await startPlatform();
  try {
    const launcher = statusField(p.pids().api!, 'PPid');
    if (launcher === 0) throw new Error('the API process (and so the launcher) was not found');
    await sleep(SETTLE_MS);
    say(`\nidle platform, no app (${SAMPLES} samples, 1 s apart, after ${SETTLE_MS / 1000} s):`);
    const platformTotals: number[] = [];
    const platformDistinct: number[] = [];
    for (let s = 0; s < SAMPLES; s++) {
      let total = 0;
      const pids = processTree(launcher);
      for (const pid of pids) {
        const kib = rssKiB(pid);
        total += kib;
        say(`sample ${s} pid ${pid} rss ${mib(kib)} MiB  ${commandOf(pid)}`);
      }
      const distinct = distinctKiB(pids);
      platformTotals.push(total);
      platformDistinct.push(distinct);
      say(`sample ${s} platform total ${mib(total)} MiB (sum of VmRSS); ${mib(distinct)} MiB distinct pages`);
      await sleep(1000);
    }

    const bundle = await tgzOf({ 'index.js': "module.exports = (q, s) => s.end('hello');\n" });
    const apps = Array.from({ length: APPS }, (_, i) => `dense-${i + 1}`);
    for (const app of apps) {
      await createApp(p, app);
      const d = await deploy(p, app, bundle);
      if (d.deploy.status !== 'succeeded') throw new Error(`${app}: ${d.log}`);
      if ((await p.get(app)).body !== 'hello') throw new Error(`${app} does not serve`);
    }
    await sleep(SETTLE_MS);
    say(`\n${APPS} idle hello apps (each deployed once, served one request, then left alone ${SETTLE_MS / 1000} s):`);
    const perApp: number[] = [];
    const allAppPids: number[] = [];
    for (const app of apps) {
      let total = 0;
      const pids = await podPids(p.platformId, app);
      allAppPids.push(...pids);
      for (const pid of pids) {
        const kib = rssKiB(pid);
        total += kib;
        say(`${app} pid ${pid} rss ${mib(kib)} MiB  ${commandOf(pid)}`);
      }
      perApp.push(total);
      say(`${app} pod total ${mib(total)} MiB`);
    }
    // The apps' runtimes run the same image's `node`: its pages are in memory once for all of them.
    const appsDistinct = distinctKiB(allAppPids);
    say(`all ${APPS} apps together: ${mib(appsDistinct)} MiB distinct pages`);
    let withApps = 0;
    for (const pid of processTree(launcher)) withApps += rssKiB(pid);
    say(`platform total with ${APPS} apps ${mib(withApps)} MiB`);

    // One more app with every platform sidecar on: what each sidecar's processes hold while idle.
    await createApp(p, 'dense-all', { sidecars: { logs: true, tls: { enabled: true }, procinfo: true } });
    const all = await deploy(p, 'dense-all', bundle);
    if (all.deploy.status !== 'succeeded') throw new Error(`dense-all: ${all.log}`);
    await sleep(SETTLE_MS);
    say(`\nan app with every platform sidecar on (logs, tls, procinfo), left alone ${SETTLE_MS / 1000} s:`);
    const sidecarKiB = new Map<string, number>();
    for (const { container, pid } of await podProcesses(p.platformId, 'dense-all')) {
      const kib = rssKiB(pid);
      sidecarKiB.set(container, (sidecarKiB.get(container) ?? 0) + kib);
      say(`dense-all ${container} pid ${pid} rss ${mib(kib)} MiB  ${commandOf(pid)}`);
    }

    const idle = quantile(platformTotals, 0.5);
    const idleDistinct = quantile(platformDistinct, 0.5);
    const app = quantile(perApp, 0.5);
    const appShare = appsDistinct / APPS;
    say('\nsummary:');
    say(`idle platform: median ${mib(idle)} MiB resident, summed over processes (n=${SAMPLES})`);
    say(`idle platform: median ${mib(idleDistinct)} MiB of distinct resident pages (n=${SAMPLES})`);
    say(
      `idle hello app (one pod): median ${mib(app)} MiB resident (n=${APPS}), min ${mib(Math.min(...perApp))}, max ${mib(Math.max(...perApp))}`,
    );
    say(`idle hello apps per GiB of memory, by each pod's summed VmRSS: ${Math.floor((1024 * 1024) / app)}`);
    say(
      `idle hello app, distinct pages of all ${APPS} divided by ${APPS}: ${mib(appShare)} MiB; per GiB: ${Math.floor((1024 * 1024) / appShare)}`,
    );
    say(`with ${APPS} apps the platform's own processes: ${mib(withApps)} MiB`);
    for (const [container, kib] of sidecarKiB) say(`container ${container} of an idle app: ${mib(kib)} MiB resident`);
  } finally {
    await stopPlatform(p);
  }
  mkdirSync('docs/benchmarks', { recursive: true });
  const file = join('docs/benchmarks', `density-${new Date().toISOString().slice(0, 16).replace(/[T:]/g, '-')}.txt`);
  writeFileSync(file, `${out.join('\n')}\n`);
  console.log(`\nraw output written to ${file}`);
}

await main();
