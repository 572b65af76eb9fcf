import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Restart when it exits unexpectedly (the platform's own processes do; Redis does not). */
  restart: boolean;
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
    const p = spawn(this.spec.command, this.spec.args, { env: this.spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    for (const stream of [p.stdout, p.stderr]) {
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
