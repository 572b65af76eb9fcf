import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Names of the data plane's files that more than the router reads (the rest: router's haproxyFiles). */
export const DATA_PLANE_FILE = { config: 'haproxy.cfg', pidFile: 'haproxy.pid' } as const;

/**
 * Where a platform's router keeps its data plane (HAProxy) in the data dir. Shared by the router, which
 * runs HAProxy there, and the launcher, which stops one its router left behind (stopLeftDataPlane).
 */
export function routerDataPlaneFiles(dataDir: string): { dir: string; config: string; pidFile: string } {
  const dir = join(dataDir, 'router');
  return { dir, config: join(dir, DATA_PLANE_FILE.config), pidFile: join(dir, DATA_PLANE_FILE.pidFile) };
}

/**
 * The HAProxy master recorded in a data plane's pid file, with its command line, if that pid still runs
 * this configuration (a pid file can name a pid used since by another process).
 */
export function recordedMaster(files: {
  config: string;
  pidFile: string;
}): { pid: number; cmdline: string } | undefined {
  try {
    const pid = Number(readFileSync(files.pidFile, 'utf8').trim().split('\n')[0]);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(files.config) ? { pid, cmdline } : undefined;
  } catch {
    return undefined; // no pid file, or no such process
  }
}

/** SIGTERM to `pid`, then up to `waitMs` for it to go. Resolves whether it was there to signal. */
export async function terminate(pid: number, waitMs: number): Promise<boolean> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  for (const deadline = Date.now() + waitMs; alive(pid) && Date.now() < deadline;)
    await new Promise((r) => setTimeout(r, 20));
  return true;
}

/**
 * Stops the HAProxy that the router of `dataDir` left running. It outlives its router on purpose (a
 * restarted router adopts it, and traffic keeps flowing meanwhile), so when the platform stops while
 * its router is gone — the launcher gave up on a router that kept crashing, or it was killed — the
 * launcher stops it here, as the router itself would (SIGTERM to the master: an immediate stop).
 * Resolves whether there was one.
 */
export async function stopLeftDataPlane(dataDir: string, waitMs = 2_000): Promise<boolean> {
  const master = recordedMaster(routerDataPlaneFiles(dataDir));
  return master !== undefined && (await terminate(master.pid, waitMs));
}

/** Whether a process of this id exists (signal 0: nothing is sent). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
