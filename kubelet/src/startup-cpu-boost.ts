import type Docker from 'dockerode';
import { parseCpu, type Container, type Log } from '@sidecar/core';

/**
 * Startup CPU boost. Not a kubelet rule: what Google's kube-startup-cpu-boost controller does on a
 * cluster with in-place pod resize. A container whose CPU limit is below `nanoCpus` is created with
 * `nanoCpus` and set to its own limit once the pod is Ready, or `maxMs` after the pod began to start,
 * whichever comes first; a container created after that gets its own limit from the start. A runtime
 * boots in about half the time at one CPU than at 500m (docs/benchmarks.md), and that boot is on the
 * path of every deploy and cold rollback; a tenant could ask for that much CPU for good anyway
 * (SIDECAR_MAX_CPU), so the boost gives nobody more than they could have.
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

  constructor(
    private readonly docker: Docker,
    private readonly boost: StartupCpuBoost | undefined,
    private readonly log: Log,
  ) {
    this.ended = boost === undefined;
  }

  /** At the pod's start: the boost ends `maxMs` from now at the latest. */
  begin(): void {
    if (this.ended || this.timer) return;
    this.timer = setTimeout(() => this.end(), this.boost!.maxMs);
    this.timer.unref();
  }

  /** The CPU limit to create the container with while the boost lasts; undefined: its own. */
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

  /**
   * Ends the boost (the pod is Ready, or its time is up): the boosted containers get their own limits.
   * `setBack: false` when the pod is stopping or no longer supervised (an adopter sets them back:
   * PodRunner.resume).
   */
  end({ setBack = true }: { setBack?: boolean } = {}): void {
    clearTimeout(this.timer);
    if (this.ended) return;
    this.ended = true;
    const boosted = this.boosted.splice(0);
    if (setBack) this.setBack(boosted);
  }

  private setBack(boosted: { container: Container; id: Promise<string> }[]): void {
    for (const { container, id } of boosted)
      void id.then(
        (cid) => setNanoCpus(this.docker, cid, declaredNanoCpus(container)!, this.log),
        () => undefined,
      );
  }
}

const ATTEMPTS = 3;

/**
 * Sets a container's CPU limit (its cgroup's quota, running, frozen or exited). A container that is gone
 * needs none; an engine that fails three times is logged, and the container keeps the boost until its pod
 * is adopted again (PodRunner.resume compares every container's limit with its own).
 */
export async function setNanoCpus(docker: Docker, id: string, nanoCpus: number, log: Log): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await docker.getContainer(id).update({ NanoCpus: nanoCpus });
      return;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return;
      if (attempt === ATTEMPTS)
        return log.error(
          { err, container: id },
          'startup CPU boost: could not set the container back to its own CPU limit',
        );
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}
