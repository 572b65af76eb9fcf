/**
 * The kubelet's crash-loop back-off (rule 7), after client-go `flowcontrol.Backoff`
 * as used by kuberuntime `doBackOff`: the first restart of a container is
 * immediate and arms a 10 s delay; each later exit inside the delay doubles it,
 * capped at 300 s. An entry is forgotten when the container ran for more than
 * 2 × the cap (10 min) since the previous exit.
 *
 * `scale` multiplies every duration (1 = the kubelet's; tests use e.g. 0.05,
 * which gives 0.5 s, 1 s, 2 s, ... capped at 15 s, reset after 30 s).
 */
export const KUBELET_BACKOFF = { initialMs: 10_000, maxMs: 300_000 } as const;

interface Entry {
  delayMs: number;
  lastUpdate: number;
}

export class CrashLoopBackoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly entries = new Map<string, Entry>();

  constructor(scale = 1) {
    if (!(scale > 0)) throw new Error(`backoff scale must be > 0, got ${scale}`);
    this.initialMs = KUBELET_BACKOFF.initialMs * scale;
    this.maxMs = KUBELET_BACKOFF.maxMs * scale;
  }

  /**
   * Called when a container that exited at `exitedAt` is due for a restart at `now`.
   * Returns 0 to restart now (and arms the next delay, like `doBackOff` does),
   * or the milliseconds left to wait (`CrashLoopBackOff`).
   */
  delayFor(key: string, exitedAt: number, now: number): number {
    const entry = this.entries.get(key);
    if (entry && !this.expired(entry, exitedAt)) {
      const left = exitedAt + entry.delayMs - now;
      if (left > 0) return left;
    }
    this.next(key, exitedAt);
    return 0;
  }

  /** The delay currently armed for a container (0 when none), for status messages. */
  current(key: string): number {
    return this.entries.get(key)?.delayMs ?? 0;
  }

  private next(key: string, exitedAt: number): void {
    const entry = this.entries.get(key);
    if (!entry || this.expired(entry, exitedAt)) {
      this.entries.set(key, { delayMs: this.initialMs, lastUpdate: exitedAt });
      return;
    }
    this.entries.set(key, { delayMs: Math.min(entry.delayMs * 2, this.maxMs), lastUpdate: exitedAt });
  }

  private expired(entry: Entry, eventTime: number): boolean {
    return eventTime - entry.lastUpdate > 2 * this.maxMs;
  }
}
