import { errorText, silentLog, type Log } from '@sidecar/core';

/**
 * Runs `work` now and then every `intervalMs`, never two runs at once (a slow run
 * makes the next tick skip). A failed run is logged in one line; while runs keep failing
 * with the same error (the Docker engine away for a while: every 500 ms), the repeats are
 * counted instead of logged, and one line says when it works again. `close()` stops the
 * ticks and waits for a run in progress.
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** The failing streak: its last error's text and how many runs failed in it. */
  private failing: { error: string; runs: number } | undefined;

  constructor(
    private readonly name: string,
    private readonly work: () => Promise<void>,
    private readonly intervalMs: number,
    private readonly log: Log = silentLog,
  ) {}

  start(): void {
    const tick = () => {
      this.running ??= this.work()
        .then(
          () => this.succeeded(),
          (e: unknown) => this.failed(e),
        )
        .finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private failed(e: unknown): void {
    const error = errorText(e);
    if (this.failing?.error === error) {
      this.failing.runs++;
      return;
    }
    this.failing = { error, runs: (this.failing?.runs ?? 0) + 1 };
    this.log.error({ task: this.name, err: e }, `${this.name} failed (logged again only if the error changes)`);
  }

  private succeeded(): void {
    if (!this.failing) return;
    this.log.info({ task: this.name }, `${this.name} works again after ${this.failing.runs} failed run(s)`);
    this.failing = undefined;
  }
}
