import { PassThrough, Writable } from 'node:stream';
import type Docker from 'dockerode';
import { Labels, PlatformSidecar, PROCINFO_SNAPSHOT_COMMAND, silentLog, type Log } from '@sidecar/core';
import type { ProcessInfo, Stores } from '@sidecar/store';
import { containerName, PLATFORM_LABEL } from '@sidecar/kubelet';
import { Periodic } from '../../periodic.js';

/** Linux's USER_HZ: /proc reports CPU time in these ticks on every architecture Docker runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

interface Sample {
  uptime: number;
  procs: Map<number, { ticks: number; rssKb: number; cgroup: string; command: string }>;
}

/**
 * Pure: the output of `procinfo.sh snapshot` (two samples of the pod's /proc)
 * → the processes of one container (those whose cgroup path names its id), with
 * CPU use over the interval between the samples and resident memory.
 */
export function parseProcinfo(output: string, containerId: string): ProcessInfo[] {
  // An empty id would be part of every cgroup path: no container, no processes.
  if (!containerId) return [];
  const samples: Sample[] = [];
  for (const line of output.split('\n')) {
    if (line.startsWith('uptime ')) {
      samples.push({ uptime: Number(line.slice('uptime '.length)), procs: new Map() });
      continue;
    }
    const [tag, pid, ticks, rss, cgroup, ...command] = line.split('\t');
    const current = samples.at(-1);
    if (tag !== 'proc' || !current || cgroup === undefined) continue;
    current.procs.set(Number(pid), {
      ticks: Number(ticks),
      rssKb: Number(rss),
      cgroup,
      command: command.join('\t').trim(),
    });
  }
  const [first, last] = [samples[0], samples.at(-1)];
  if (!first || !last) return [];
  const seconds = last.uptime - first.uptime;
  const items: ProcessInfo[] = [];
  for (const [pid, p] of last.procs) {
    if (!p.cgroup.includes(containerId)) continue;
    const before = first.procs.get(pid);
    const used = before && seconds > 0 ? (p.ticks - before.ticks) / CLOCK_TICKS_PER_SECOND / seconds : 0;
    items.push({
      pid,
      command: p.command,
      cpuPercent: Math.round(Math.max(0, used) * 1000) / 10,
      memoryBytes: p.rssKb * 1024,
    });
  }
  return items.sort((a, b) => a.pid - b.pid);
}

/** The most a snapshot may print (two samples of every process of the pod). */
export const MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024;
/** A snapshot takes half a second; one that takes this long is given up. */
export const SNAPSHOT_TIMEOUT_MS = 10_000;

/**
 * Where a snapshot's stdout goes: kept up to MAX_SNAPSHOT_BYTES. Command lines are the app's
 * to choose: a larger snapshot is dropped, not buffered (`onOverflow` is called once, to end the exec).
 */
export function snapshotSink(onOverflow: (e: Error) => void): { sink: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  let size = 0;
  const sink = new Writable({
    write(b: Buffer, _encoding, done) {
      size += b.length;
      if (size <= MAX_SNAPSHOT_BYTES) chunks.push(b);
      else if (size - b.length <= MAX_SNAPSHOT_BYTES)
        onOverflow(new Error(`procinfo snapshot larger than ${MAX_SNAPSHOT_BYTES} bytes; skipped`));
      done();
    },
  });
  return { sink, text: () => Buffer.concat(chunks).toString('utf8') };
}

/**
 * Collects process lists from the procinfo sidecars of this platform's pods:
 * every interval, `docker exec` of the snapshot command in each running procinfo
 * container, kept to the pod's runtime container, published to Redis for
 * `GET /apps/:app/pods/:pod/processes` (the API never talks to Docker).
 * KubeProcessInsight is its counterpart on a cluster.
 */

export class ProcessInsight {
  private readonly ticks: Periodic;

  constructor(
    private readonly opts: { docker: Docker; stores: Stores; platformId: string; intervalMs?: number; log?: Log },
  ) {
    this.ticks = new Periodic('process insight', () => this.scan(), opts.intervalMs ?? 2000, opts.log);
  }

  start(): void {
    this.ticks.start();
  }

  private async scan(): Promise<void> {
    const sidecars = await this.opts.docker.listContainers({
      filters: {
        label: [
          `${Labels.managed}=true`,
          `${PLATFORM_LABEL}=${this.opts.platformId}`,
          `${Labels.container}=${PlatformSidecar.procinfo}`,
        ],
        status: ['running'],
      },
    });
    await Promise.all(
      sidecars.map((c) =>
        this.collect(c).catch((e: unknown) => {
          // A pod stopping between the listing and the exec is normal; anything else is worth a line.
          if ((e as { statusCode?: number }).statusCode !== 404 && (e as { statusCode?: number }).statusCode !== 409) {
            (this.opts.log ?? silentLog).error({ container: c.Names[0] ?? c.Id, err: e }, 'process insight failed');
          }
        }),
      ),
    );
  }

  private async collect(c: Docker.ContainerInfo): Promise<void> {
    const app = c.Labels[Labels.app];
    const pod = c.Labels[Labels.pod];
    if (!app || !pod) return;
    const runtime = await this.opts.docker.getContainer(containerName(pod, 'runtime')).inspect();
    const output = await this.exec(c.Id);
    await this.opts.stores.processes.put(app, {
      pod,
      time: new Date().toISOString(),
      items: parseProcinfo(output, runtime.Id),
    });
  }

  private async exec(id: string): Promise<string> {
    const exec = await this.opts.docker
      .getContainer(id)
      .exec({ Cmd: [...PROCINFO_SNAPSHOT_COMMAND], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    let overflow: Error | undefined;
    const out = snapshotSink((e) => {
      overflow = e;
      stream.destroy(e);
    });
    this.opts.docker.modem.demuxStream(stream, out.sink, new PassThrough());
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        stream.destroy();
        reject(new Error(`procinfo snapshot took longer than ${SNAPSHOT_TIMEOUT_MS / 1000} s`));
      }, SNAPSHOT_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      stream.once('end', done);
      stream.once('close', done);
      stream.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    if (overflow) throw overflow;
    return out.text();
  }

  async close(): Promise<void> {
    await this.ticks.close();
  }
}
