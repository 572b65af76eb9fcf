import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who a warm network holder waits for (POOL_OWNER_LABEL): `<hostname>:<pid>:<start>:<pool>`. Only
 * that pool, in that process, ever claims it; so a holder may be removed by anyone else only once
 * its owner process is gone (netns-pool.ts). `<start>` is the process's start time (Linux
 * `/proc/<pid>/stat`, clock ticks since boot; empty where unknown): a pid taken over by a later
 * process is then not mistaken for the owner. Hostnames contain no `:`.
 */
export function poolOwner(pool: string, pid = process.pid): string {
  return `${hostname()}:${pid}:${startTimeOf(pid) ?? ''}:${pool}`;
}

/**
 * True when the owner is provably gone: a process on this host that no longer runs, or whose pid now
 * belongs to a later process. Another host's owner, or any doubt, is not gone. (Owners written before
 * start times were recorded, `<hostname>:<pid>:<pool>`, are judged by their pid alone.)
 */
export function ownerGone(owner: string | undefined): boolean {
  const parts = owner?.split(':') ?? [];
  if (parts.length !== 3 && parts.length !== 4) return true; // not written by a pool: nobody will claim it
  const [host, pidText] = parts;
  const start = parts.length === 4 ? parts[2] : '';
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return true;
  if (host !== hostname()) return false; // another host's worker: not ours to judge
  if (!running(pid)) return true;
  if (!start) return false;
  const now = startTimeOf(pid);
  return now !== undefined && now !== start;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: it runs, as another user
  }
}

/** Field 22 of `/proc/<pid>/stat` (after the parenthesised command name, which may hold spaces). */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
