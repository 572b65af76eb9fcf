import { errorText } from '@sidecar/core';
import type { ContainerRecord } from './container-record.js';
import { runAction, type ActionTarget } from './handlers.js';
import { planTermination, type TerminationAction } from './pod-planner.js';

/** What a termination needs from its runner: Docker signals, hook targets, events, and a nudge on change. */
export interface TerminationHost {
  signal(c: ContainerRecord, signal: string): Promise<void>;
  target(c: ContainerRecord): ActionTarget;
  emit(container: string, reason: string, message: string): void;
  /** Something changed: the runner calls `step()` again within this turn of the event loop. */
  changed(): void;
}

/** How far one member's termination got: the executor's half of planTermination's input. */
interface Progress {
  preStop: 'notBegun' | 'running' | 'done';
  signalling: boolean;
  stopSentAtMs: number | null;
  killSentAtMs: number | null;
}

const errorMessage = (e: unknown) => errorText(e);

/**
 * One pod termination (rules 12–18) being executed: on every `step()` it asks planTermination what
 * is due now, does it (preStop hooks, stop signals, SIGKILLs), and wakes the runner when the plan
 * says to look again. `done` resolves when the planner says it is over or the runner closes; it
 * rejects with the first signal Docker refused (the others are still signalled).
 */
export class PodTermination {
  readonly done: Promise<void>;
  private readonly members: Map<ContainerRecord, Progress>;
  private wake: NodeJS.Timeout | undefined;
  private over = false;
  private resolve!: () => void;
  private reject!: (e: unknown) => void;

  constructor(
    private readonly host: TerminationHost,
    members: readonly ContainerRecord[],
    /** t0 + the grace period (rule 13). */
    private readonly deadlineMs: number,
  ) {
    const progress = (): Progress => ({
      preStop: 'notBegun',
      signalling: false,
      stopSentAtMs: null,
      killSentAtMs: null,
    });
    this.members = new Map(members.map((c) => [c, progress()]));
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    for (const c of members) host.emit(c.spec.name, 'Killing', `Stopping container ${c.spec.name}`);
  }

  step(): void {
    if (this.over) return;
    const now = Date.now();
    const plan = planTermination({
      deadlineMs: this.deadlineMs,
      nowMs: now,
      members: [...this.members].map(([c, p]) => ({
        name: c.spec.name,
        kind: c.kind,
        index: c.index,
        phase: c.phase,
        startInFlight: c.startInFlight,
        hasPreStop: c.spec.lifecycle?.preStop !== undefined,
        ...p,
      })),
    });
    for (const action of plan.actions) this.execute(action);
    clearTimeout(this.wake);
    this.wake = undefined;
    if (plan.done) return this.end();
    if (plan.wakeAtMs !== null) this.wake = setTimeout(() => this.host.changed(), Math.max(0, plan.wakeAtMs - now));
  }

  /** Ends it as it stands (the runner closed: nothing more is signalled). Safe twice. */
  end(): void {
    this.over = true;
    clearTimeout(this.wake);
    this.resolve();
  }

  private execute(action: TerminationAction): void {
    const [c, p] = [...this.members].find(([r]) => r.spec.name === action.container)!;
    if (action.type === 'preStop') {
      const hook = c.spec.lifecycle?.preStop;
      if (!hook) return;
      p.preStop = 'running';
      void runAction(this.host.target(c), hook, { timeoutMs: action.timeoutMs })
        .catch((e: unknown) => ({ ok: false, message: errorMessage(e) }))
        .then((result) => {
          if (!result.ok) this.host.emit(c.spec.name, 'FailedPreStopHook', `PreStopHook failed: ${result.message}`);
          p.preStop = 'done';
          this.host.changed();
        });
      return;
    }
    p.signalling = true;
    void this.host.signal(c, action.signal === 'stop' ? c.stopSignal : 'SIGKILL').then(
      () => {
        // Counted from when Docker took the signal (rule 17's floor runs from the signal, not from the request).
        if (action.signal === 'stop') p.stopSentAtMs = Date.now();
        else p.killSentAtMs = Date.now();
        p.signalling = false;
        this.host.changed();
      },
      (e: unknown) => {
        p.signalling = false;
        this.reject(e);
        this.host.changed();
      },
    );
  }
}
