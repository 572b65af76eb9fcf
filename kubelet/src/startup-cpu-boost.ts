import type Docker from 'dockerode';
import { parseCpu, type Container, type Log } from '@sidecar/core';

/**
 * Startup CPU boost. Not a kubelet rule: what Google's kube-startup-cpu-boost controller does on a
 * cluster with in-place pod resize. A container whose CPU limit is below `nanoCpus` is created with
 * `nanoCpus` and set to its own limit when PodCpuBoost says (a sidecar once started, a main once the pod
 * is Ready or `maxMs` after it started; any when the pod stops or its runner closes); a container created
 * after the pod's end of the boost gets its own limit from the start. Both ends of a start gain
 * (docs/benchmarks.md): a container's start runs runc's init inside the container's CPU limit (a container
 * at the log shipper's 100m starts in ~0.36 s, at one CPU in ~0.26 s), and the runtime boots in about half
 * the time at one CPU than at 500m. The tenant's code runs only
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

/**
 * One pod's boost. A sidecar (or init container) keeps it until it has started: what the boost buys it is
 * its start (runc's init runs inside its limit), and afterwards its work (shipping the app's log lines,
 * say) is at its own limit. A main keeps it until the pod is Ready, at most `maxMs` after it started (a
 * container that has not started uses no CPU: a pod whose logic image builds for minutes loses nothing).
 * The pod's end of the boost (Ready, stopping, its runner closing) sets back whatever is still boosted.
 */
export class PodCpuBoost {
  private ended: boolean;
  /** The containers still boosted, by name: their ids once created, and a main's clock once it started. */
  private readonly boosted = new Map<string, { container: Container; id: Promise<string>; clock?: NodeJS.Timeout }>();
  private readonly settingBack = new Set<Promise<void>>();

  /** `signal`: the runner's lifetime; once aborted, a set-back that failed is not tried again. */
  constructor(
    private readonly docker: Docker,
    private readonly boost: StartupCpuBoost | undefined,
    private readonly log: Log,
    private readonly signal: AbortSignal,
  ) {
    this.ended = boost === undefined;
  }

  /** The CPU limit to create a container with while the boost lasts; undefined: its own. */
  nanoCpusFor(c: Container): number | undefined {
    const declared = declaredNanoCpus(c);
    return !this.ended && declared !== undefined && declared < this.boost!.nanoCpus ? this.boost!.nanoCpus : undefined;
  }

  /** A container created with nanoCpusFor's limit (its id once it exists). */
  created(container: Container, id: Promise<string>): void {
    id.catch(() => undefined); // a creation that failed has nothing to set back
    this.boosted.set(container.name, { container, id });
    // Created after the end was decided (its creation was under way): set back now.
    if (this.ended) this.setBack(container.name);
  }

  /** The container started: a sidecar or init container is set back now, a main `maxMs` from now at the latest. */
  started(name: string, main: boolean): void {
    const entry = this.boosted.get(name);
    if (!entry || entry.clock) return;
    if (!main) return this.setBack(name);
    entry.clock = setTimeout(() => this.setBack(name), this.boost!.maxMs);
    entry.clock.unref();
  }

  /** Ends the boost: what is still boosted gets its own limit. Resolves once those set-backs have settled. */
  end(): Promise<void> {
    this.ended = true;
    for (const name of [...this.boosted.keys()]) this.setBack(name);
    return Promise.all([...this.settingBack]).then(() => undefined);
  }

  private setBack(name: string): void {
    const entry = this.boosted.get(name);
    if (!entry) return;
    this.boosted.delete(name);
    clearTimeout(entry.clock);
    const own = declaredNanoCpus(entry.container)!;
    const work = entry.id.then(
      (cid) => setNanoCpus(this.docker, cid, own, this.log, this.signal),
      () => undefined,
    );
    this.settingBack.add(work);
    void work.finally(() => this.settingBack.delete(work));
  }
}

/**
 * Sets a container's CPU limit (its cgroup's quota, running, frozen or exited). A container that is gone
 * needs none, and one the engine refuses to update (a 4xx: marked for removal, say) cannot have it: logged.
 * An engine that fails otherwise (restarting, say) is asked again, at growing intervals up to 5 s, until it
 * answers or `signal` ends the runner's supervision (logged after the third failure, and at the end); the
 * container then keeps the boost until its pod is adopted again (PodRunner.resume sets every container
 * whose limit is not its own back to it).
 */
export async function setNanoCpus(
  docker: Docker,
  id: string,
  nanoCpus: number,
  log: Log,
  signal: AbortSignal,
): Promise<void> {
  const failed = (err: unknown) =>
    log.error({ err, container: id }, 'startup CPU boost: could not set the container back to its own CPU limit');
  for (let attempt = 1, wait = 100; ; attempt++, wait = Math.min(wait * 2, 5000)) {
    try {
      await docker.getContainer(id).update({ NanoCpus: nanoCpus });
      return;
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 404) return;
      if ((status !== undefined && status >= 400 && status < 500) || signal.aborted) return failed(err);
      if (attempt === 3) failed(err);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
