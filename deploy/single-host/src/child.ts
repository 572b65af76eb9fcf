import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** The child exits when the launcher's end of its stdin pipe closes (our node processes do; Redis has a parent-death signal). */
  supervisedByPipe?: boolean;
  /** The lines the child writes (stdout and stderr), as written: each read's complete lines at once. */
  onLines: (lines: string[], stream: 'stdout' | 'stderr') => void;
  /** Called on every change of the child's state (for /readyz, /metrics and the log). */
  onState: (state: ChildState) => void;
  /** Called once when the child crashed too often to keep restarting it. */
  onGiveUp: (state: ChildState) => void;
}

export const ChildStatus = {
  starting: 'starting',
  running: 'running',
  restarting: 'restarting',
  stopped: 'stopped',
  failed: 'failed',
} as const;
export type ChildStatus = (typeof ChildStatus)[keyof typeof ChildStatus];

export interface ChildState {
  name: string;
  status: ChildStatus;
  pid: number | null;
  restarts: number;
  /** Why it last exited on its own: exit code or signal, and its last line on stderr. */
  lastExit: { at: string; code: number | null; signal: string | null; lastError: string | null } | null;
}

/** Restart back-off: 200 ms doubling to 10 s; reset after a child ran this long. */
const FIRST_DELAY_MS = 200;
const MAX_DELAY_MS = 10_000;
const HEALTHY_AFTER_MS = 30_000;
/** This many crashes within the window is a crash loop: the launcher gives up on the child. */
export const CRASH_LOOP = { crashes: 5, windowMs: 60_000 } as const;

/**
 * One supervised process: restarted with a growing delay when it dies on its own, given up on after a
 * crash loop, stopped with SIGTERM then SIGKILL. Its state is reported on every change.
 */
export class Child {
  private proc: ChildProcess | undefined;
  private stopping = false;
  private consecutive = 0;
  private crashes: number[] = [];
  private exited: Promise<void> = Promise.resolve();
  private lastError: string | null = null;
  private readonly state: ChildState;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(private readonly spec: ChildSpec) {
    this.state = { name: spec.name, status: ChildStatus.starting, pid: null, restarts: 0, lastExit: null };
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get current(): Readonly<ChildState> {
    return this.state;
  }

  start(): void {
    // A stdin pipe the child watches (SIDECAR_SUPERVISED): if this launcher dies, even by SIGKILL,
    // the pipe closes and the child shuts down instead of living on as an orphan.
    // Its own process group: Ctrl-C in a terminal reaches the whole foreground group, and the children
    // must be stopped by the launcher, in order (router and API, then worker, then Redis), not all at once.
    const p = spawn(this.spec.command, this.spec.args, {
      env: { ...this.spec.env, SIDECAR_SUPERVISED: this.spec.supervisedByPipe ? '1' : undefined },
      stdio: [this.spec.supervisedByPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.proc = p;
    // A launcher that stops while a child starts must not die of EPIPE on the child's stdin.
    p.stdin?.on('error', () => undefined);
    for (const [stream, name] of [
      [p.stdout, 'stdout'],
      [p.stderr, 'stderr'],
    ] as const) {
      if (!stream) continue;
      readLines(stream, (lines) => {
        if (name === 'stderr') {
          const last = [...lines].reverse().find((l) => l.trim() !== '');
          if (last !== undefined) this.lastError = last.slice(0, 500);
        }
        this.spec.onLines(lines, name);
      });
    }
    this.update({ status: ChildStatus.running, pid: p.pid ?? null });
    const startedAt = Date.now();
    this.exited = new Promise((resolve) => {
      p.once('error', (e) => {
        this.lastError = e.message;
      });
      p.once('exit', (code, signal) => {
        resolve();
        if (this.stopping) {
          this.update({ status: ChildStatus.stopped, pid: null });
          return;
        }
        this.crashed({ code, signal, ranMs: Date.now() - startedAt });
      });
    });
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`. Safe twice; a pending restart is cancelled. */
  async stop(timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) {
      // A child given up on stays `failed`: that is what /readyz and supervisor.json must keep saying.
      if (this.state.status !== ChildStatus.failed) this.update({ status: ChildStatus.stopped, pid: null });
      return;
    }
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  private crashed(exit: { code: number | null; signal: string | null; ranMs: number }): void {
    const now = Date.now();
    this.state.lastExit = {
      at: new Date(now).toISOString(),
      code: exit.code,
      signal: exit.signal,
      lastError: this.lastError,
    };
    this.crashes = [...this.crashes.filter((t) => now - t < CRASH_LOOP.windowMs), now];
    if (this.crashes.length >= CRASH_LOOP.crashes) {
      this.update({ status: ChildStatus.failed, pid: null });
      this.spec.onGiveUp(this.state);
      return;
    }
    // A process that ran for a while starts its back-off afresh.
    if (exit.ranMs > HEALTHY_AFTER_MS) this.consecutive = 0;
    const delay = Math.min(FIRST_DELAY_MS * 2 ** this.consecutive++, MAX_DELAY_MS);
    this.update({ status: ChildStatus.restarting, pid: null, restarts: this.state.restarts + 1 });
    this.restartTimer = setTimeout(() => {
      if (!this.stopping) this.start();
    }, delay);
  }

  private update(change: Partial<ChildState>): void {
    Object.assign(this.state, change);
    this.spec.onState({ ...this.state });
  }
}

/** Describes an exit for a log line: "exit code 1", "signal SIGKILL", with its last error line. */
export function describeExit(exit: NonNullable<ChildState['lastExit']>): string {
  const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code ?? '?'}`;
  return exit.lastError ? `${how}; last error: ${exit.lastError}` : how;
}

/**
 * Splits a stream into lines, handing over each read's complete lines together: the router prints one
 * access line per request, and a callback (and a write) per line would cost the launcher more than
 * the lines are worth. A last line without a newline is handed over when the stream ends.
 */
function readLines(stream: Readable, onLines: (lines: string[]) => void): void {
  const utf8 = new StringDecoder('utf8');
  let rest = '';
  stream.on('data', (chunk: Buffer) => {
    const text = rest + utf8.write(chunk);
    const end = text.lastIndexOf('\n');
    if (end === -1) {
      rest = text;
      return;
    }
    rest = text.slice(end + 1);
    onLines(
      text
        .slice(0, end)
        .split('\n')
        .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)),
    );
  });
  stream.on('end', () => {
    const last = rest + utf8.end();
    if (last !== '') onLines([last]);
  });
}
