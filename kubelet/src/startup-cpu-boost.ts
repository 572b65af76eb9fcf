import type Docker from 'dockerode';
import { parseCpu, type Container, type Log } from '@sidecar/core';

/**
 * Startup CPU boost. Not a kubelet rule: what Google's kube-startup-cpu-boost controller does on a
 * cluster with in-place pod resize. A container whose CPU limit is below `nanoCpus` is created with
 * `nanoCpus` and set to its own limit once the pod is Ready, `maxMs` after the pod began to start, or when
 * the pod stops or its runner closes, whichever comes first; a container created after that gets its own
 * limit from the start. Both ends of a start gain (docs/benchmarks.md): a container's start runs runc's
 * init inside the container's CPU limit (the log shipper starts in ~0.36 s at its 100m, ~0.26 s at one
 * CPU), and the runtime boots in about half the time at one CPU than at 500m. The tenant's code runs only
 * in the runtime, whose boost the platform caps at what a tenant may ask for it to keep (SIDECAR_MAX_CPU)
 * and at the engine's CPUs; the sidecars run the platform's code (the loader, the log shipper, TLS, procinfo).
 */
export interface StartupCpuBoost {
  nanoCpus: number;
  maxMs: number;
}

/** The container's own CPU limit in nano-CPUs, or undefined when it has none (unlimited: nothing to boost). */
export function declaredNanoCpus(c: Container): number | undefined {
  const cpu = c.resources?.limits?.cpu;
  return cpu ? parseCpu(cpu) : undefined;
}

/** One pod's boost: its clock, and the containers created boosted, set to their own limits at its end. */
export class PodCpuBoost {
  private ended: boolean;
  private timer: NodeJS.Timeout | undefined;
  private readonly boosted: { container: Container; id: Promise<string> }[] = [];

  /** `signal`: the runner's lifetime; once aborted, a set-back that failed is not tried again. */
  constructor(
    private readonly docker: Docker,
    private readonly boost: StartupCpuBoost | undefined,
    private readonly log: Log,
    private readonly signal: AbortSignal,
  ) {
    this.ended = boost === undefined;
  }

  /** At the pod's start: the boost ends `maxMs` from now at the latest. */
  begin(): void {
    if (this.ended || this.timer) return;
    this.timer = setTimeout(() => this.end(), this.boost!.maxMs);
    this.timer.unref();
  }

  /** The CPU limit to create a container with while the boost lasts; undefined: its own. */
  nanoCpusFor(c: Container): number | undefined {
    const declared = declaredNanoCpus(c);
    return !this.ended && declared !== undefined && declared < this.boost!.nanoCpus ? this.boost!.nanoCpus : undefined;
  }

  /** A container created with nanoCpusFor's limit (its id once it exists): set back at the end. */
  created(container: Container, id: Promise<string>): void {
    id.catch(() => undefined); // a creation that failed has nothing to set back
    this.boosted.push({ container, id });
    // Created after the end was decided (its creation was under way): set back now.
    if (this.ended) this.setBack(this.boosted.splice(0));
  }

  /** Ends the boost: the boosted containers are set to their own limits (in the background). */
  end(): void {
    clearTimeout(this.timer);
    if (this.ended) return;
    this.ended = true;
    this.setBack(this.boosted.splice(0));
  }

  private setBack(boosted: { container: Container; id: Promise<string> }[]): void {
    for (const { container, id } of boosted) {
      const own = declaredNanoCpus(container)!;
      void id.then(
        (cid) => setNanoCpus(this.docker, cid, own, this.log, this.signal),
        () => undefined,
      );
    }
  }
}

/**
 * Sets a container's CPU limit (its cgroup's quota, running, frozen or exited). A container that is gone
 * needs none. A failing engine (restarting, say) is asked again, at growing intervals up to 5 s, until it
 * answers or `signal` ends the runner's supervision; the container then keeps the boost until its pod is
 * adopted again (PodRunner.resume sets every container whose limit is not its own back to it), and the
 * failure is logged.
 */
export async function setNanoCpus(
  docker: Docker,
  id: string,
  nanoCpus: number,
  log: Log,
  signal: AbortSignal,
): Promise<void> {
  for (let wait = 100; ; wait = Math.min(wait * 2, 5000)) {
    try {
      await docker.getContainer(id).update({ NanoCpus: nanoCpus });
      return;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return;
      if (signal.aborted)
        return log.error(
          { err, container: id },
          'startup CPU boost: could not set the container back to its own CPU limit',
        );
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
