import { readdirSync, readFileSync } from 'node:fs';
import type { RunningPlatform } from '../../support/platform.js';

/** The direct children of a process (every thread's `children` list in /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

/** Whether a process exists (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The embedded redis-server: the launcher supervises a small watchdog (pid in supervisor.json),
 * whose only child is redis-server.
 */
export function redisServerPid(p: RunningPlatform): number {
  const watchdog = p.pids().redis;
  if (watchdog === undefined) throw new Error('no redis in supervisor.json');
  const [server] = childPids(watchdog);
  if (server === undefined) throw new Error(`the redis watchdog ${watchdog} has no child`);
  return server;
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
