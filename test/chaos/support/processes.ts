import { readdirSync, readFileSync } from 'node:fs';
import type { RunningPlatform } from '../../support/platform.js';

/** Whether a process exists (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Live processes whose command line mentions `text` (e.g. a data dir), as `<pid> <command line>`. */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (cmdline.includes(text) && isAlive(Number(pid))) found.push(`${pid} ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * The embedded redis-server: the launcher runs it through `setpriv --pdeathsig`, which execs it, so
 * the pid in supervisor.json is redis-server's own.
 */
export function redisServerPid(p: RunningPlatform): number {
  const pid = p.pids().redis;
  if (pid === undefined) throw new Error('no redis in supervisor.json');
  const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  if (comm !== 'redis-server') throw new Error(`the supervised redis ${pid} is ${comm}, not redis-server`);
  return pid;
}

/** One platform process as the launcher sees it (supervisor.json). */
export interface SupervisedView {
  name: string;
  status: string;
  pid: number | null;
  restarts: number;
  lastExit: { code: number | null; signal: string | null; lastError: string | null } | null;
}

export function supervised(p: RunningPlatform): SupervisedView[] {
  return (JSON.parse(readFileSync(`${p.dataDir}/supervisor.json`, 'utf8')) as { children: SupervisedView[] }).children;
}
