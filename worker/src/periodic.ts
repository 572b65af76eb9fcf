import { silentLog, type Log } from '@sidecar/core';

/**
 * Runs `work` now and then every `intervalMs`, never two runs at once (a slow run
 * makes the next tick skip), logging a failed run in one line. `close()` stops the
 * ticks and waits for a run in progress.
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly name: string,
    private readonly work: () => Promise<void>,
    private readonly intervalMs: number,
    private readonly log: Log = silentLog,
  ) {}

  start(): void {
    const tick = () => {
      this.running ??= this.work()
        .catch((e: unknown) => this.log.error({ task: this.name, err: e }, `${this.name} failed`))
        .finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
