import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Restart when it exits unexpectedly (the platform's own processes do; Redis does not). */
  restart: boolean;
  /** The child exits when the launcher's end of its stdin pipe closes (our node processes do). */
  supervisedByPipe?: boolean;
  onLine?: (line: string) => void;
}

/**
 * One supervised process: output prefixed with its name, restarted with a
 * growing delay when it dies on its own, stopped with SIGTERM then SIGKILL.
 */
export class Child {
  private proc: ChildProcess | undefined;
  private stopping = false;
  private restarts = 0;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly spec: ChildSpec) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  start(): void {
    // A stdin pipe the child watches (SIDECAR_SUPERVISED): if this launcher dies, even by SIGKILL,
    // the pipe closes and the child shuts down instead of living on as an orphan.
    const p = spawn(this.spec.command, this.spec.args, {
      env: { ...this.spec.env, SIDECAR_SUPERVISED: this.spec.supervisedByPipe ? '1' : undefined },
      stdio: [this.spec.supervisedByPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    this.proc = p;
    for (const stream of [p.stdout, p.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        process.stdout.write(`[${this.spec.name}] ${line}\n`);
        this.spec.onLine?.(line);
      });
    }
    const startedAt = Date.now();
    this.exited = new Promise((resolve) => {
      p.once('exit', (code, signal) => {
        resolve();
        if (this.stopping) return;
        if (!this.spec.restart) {
          process.stdout.write(`[${this.spec.name}] exited (${signal ?? code}); not restarting\n`);
          return;
        }
        // A process that ran for a while starts its back-off afresh.
        if (Date.now() - startedAt > 30_000) this.restarts = 0;
        const delay = Math.min(200 * 2 ** this.restarts++, 10_000);
        process.stdout.write(`[${this.spec.name}] exited (${signal ?? code}); restarting in ${delay} ms\n`);
        setTimeout(() => !this.stopping && this.start(), delay).unref();
      });
    });
  }

  async stop(timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
