import { setTimeout as delay } from 'node:timers/promises';
import type Docker from 'dockerode';

/** How often the engine is asked again while an exec still runs. */
const POLL_MS = 50;

/**
 * Resolves once no exec runs in the container; rejects after `timeoutMs` if one still does.
 *
 * Why: a `docker exec` whose process is still being set up (runc exec) when the cgroup freezer freezes
 * the container never finishes, and the engine's unpause of that container then waits behind it for
 * good (seen with Docker 20.10 on cgroup v1: `docker unpause` and `docker inspect` hang). The runner
 * ends its own probes first; this covers an exec that outlived its probe's timeout or that someone
 * else started.
 */
export async function waitForNoExec(docker: Docker, id: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await docker.getContainer(id).inspect();
    const execs = (info as { ExecIDs?: string[] | null }).ExecIDs ?? [];
    const running = await Promise.all(
      execs.map((exec) =>
        docker
          .getExec(exec)
          .inspect()
          .then(
            (e) => e.Running,
            () => false, // removed meanwhile: it no longer runs
          ),
      ),
    );
    if (!running.includes(true)) return;
    if (Date.now() > deadline) throw new Error(`an exec still runs in container ${info.Name.replace(/^\//, '')}`);
    await delay(POLL_MS);
  }
}
