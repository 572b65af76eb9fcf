/**
 * The kubelet's crash-loop back-off (rule 7), after client-go `flowcontrol.Backoff`
 * as used by kuberuntime `doBackOff`: the first restart of a container is
 * immediate and arms a 10 s delay; each later exit inside the delay doubles it,
 * capped at 300 s. An entry is forgotten when the container ran for more than
 * 2 × the cap (10 min) since the previous exit.
 *
 * `scale` multiplies every duration (1 = the kubelet's; tests use e.g. 0.05,
 * which gives 0.5 s, 1 s, 2 s, ... capped at 15 s, reset after 30 s).
 *
 * `backoffStep` is the pure rule (the planner uses it on plain data); `CrashLoopBackoff`
 * keeps one entry per container for the runner.
 */
export const KUBELET_BACKOFF = { initialMs: 10_000, maxMs: 300_000 } as const;

/** One container's back-off: the delay armed by its last restart, and the exit that armed it. */
export interface BackoffEntry {
  readonly delayMs: number;
  readonly lastUpdate: number;
}

export interface BackoffLimits {
  readonly initialMs: number;
  readonly maxMs: number;
}

export function backoffLimits(scale = 1): BackoffLimits {
  if (!(scale > 0)) throw new Error(`backoff scale must be > 0, got ${scale}`);
  return { initialMs: KUBELET_BACKOFF.initialMs * scale, maxMs: KUBELET_BACKOFF.maxMs * scale };
}

/**
 * A container that exited at `exitedAt` is due for a restart at `now`: restart now (`waitMs` 0,
 * with the entry armed for the next exit, as `doBackOff` does), or wait `waitMs` (`CrashLoopBackOff`,
 * the entry unchanged).
 */
export function backoffStep(
  entry: BackoffEntry | undefined,
  o: { exitedAt: number; now: number; limits: BackoffLimits },
): { waitMs: number; entry: BackoffEntry } {
  const live = entry && !expired(entry, o.exitedAt, o.limits) ? entry : undefined;
  if (live) {
    const left = o.exitedAt + live.delayMs - o.now;
    if (left > 0) return { waitMs: left, entry: live };
  }
  const delayMs = live ? Math.min(live.delayMs * 2, o.limits.maxMs) : o.limits.initialMs;
  return { waitMs: 0, entry: { delayMs, lastUpdate: o.exitedAt } };
}

function expired(entry: BackoffEntry, eventTime: number, limits: BackoffLimits): boolean {
  return eventTime - entry.lastUpdate > 2 * limits.maxMs;
}

/** The entries of one pod's containers, by name. */
export class CrashLoopBackoff {
  readonly limits: BackoffLimits;
  private readonly entries = new Map<string, BackoffEntry>();

  constructor(scale = 1) {
    this.limits = backoffLimits(scale);
  }

  get(key: string): BackoffEntry | undefined {
    return this.entries.get(key);
  }

  set(key: string, entry: BackoffEntry): void {
    this.entries.set(key, entry);
  }

  /** `backoffStep` on this container's entry, keeping the armed entry: 0 to restart now, else the ms to wait. */
  delayFor(key: string, exitedAt: number, now: number): number {
    const step = backoffStep(this.entries.get(key), { exitedAt, now, limits: this.limits });
    this.entries.set(key, step.entry);
    return step.waitMs;
  }

  /** The delay currently armed for a container (0 when none), for status messages. */
  current(key: string): number {
    return this.entries.get(key)?.delayMs ?? 0;
  }
}
