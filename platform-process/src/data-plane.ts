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
 * Stops the HAProxy that the router of `dataDir` left running. It outlives its router on purpose (a
 * restarted router adopts it, and traffic keeps flowing meanwhile), so when the platform stops while
 * its router is gone — the launcher gave up on a router that kept crashing, or it was killed — the
 * launcher stops it here: SIGTERM to the master (an immediate stop, as the router's own), then up to
 * `waitMs` for it to go. Only a process running that configuration is signalled (a pid file can name a
 * pid used since by another process). Resolves whether there was one.
 */
export async function stopLeftDataPlane(dataDir: string, waitMs = 2_000): Promise<boolean> {
  const { config, pidFile } = routerDataPlaneFiles(dataDir);
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim().split('\n')[0]);
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(config)) return false;
    process.kill(pid, 'SIGTERM');
  } catch {
    return false; // no pid file, no such process, or it went meanwhile
  }
  for (const deadline = Date.now() + waitMs; processAlive(pid) && Date.now() < deadline;)
    await new Promise((r) => setTimeout(r, 20));
  return true;
}

/** Whether a process of this id exists (signal 0: nothing is sent). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
