/**
 * What the platform sidecars' memory benchmarks sample: a container's main process as the host
 * sees it (/proc/<pid>/status: VmRSS, VmHWM, and VmRSS split into RssAnon, the process's own
 * memory, and RssFile, pages of mapped files such as shared libraries, which every container
 * of the same image shares through the page cache) and the engine's `docker stats` figure.
 */
import { readFile } from 'node:fs/promises';
import type Dockerode from 'dockerode';

/** How the pod template runs every platform sidecar: read-only root, no capabilities. */
export const HARDENING = { ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] };

export interface MemorySample {
  rssKiB: number;
  hwmKiB: number;
  anonKiB: number;
  fileKiB: number;
  stats: number;
}

async function status(pid: number): Promise<Omit<MemorySample, 'stats'>> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM'), anonKiB: kib('RssAnon'), fileKiB: kib('RssFile') };
}

async function dockerStatsMiB(c: Dockerode.Container): Promise<number> {
  const s = (await c.stats({ stream: false, 'one-shot': true } as { stream: false })) as {
    memory_stats: { usage?: number; stats?: Record<string, number> };
  };
  const inactive = s.memory_stats.stats?.inactive_file ?? 0;
  return ((s.memory_stats.usage ?? 0) - inactive) / 2 ** 20; // what `docker stats` shows (cgroup v2)
}

/** One sample, printed as one raw line. */
export async function sample(label: string, pid: number, c: Dockerode.Container): Promise<MemorySample> {
  const st = await status(pid);
  const stats = await dockerStatsMiB(c);
  process.stdout.write(
    `sample ${label} t=${new Date().toISOString()} VmRSS=${st.rssKiB}kB VmHWM=${st.hwmKiB}kB RssAnon=${st.anonKiB}kB RssFile=${st.fileKiB}kB docker_stats=${stats.toFixed(2)}MiB\n`,
  );
  return { ...st, stats };
}

export const max = (xs: number[]) => Math.max(...xs);
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
