import type { Target } from '@sidecar/core';
import type { Stores } from '@sidecar/store';

/**
 * Mirrors the target's pod statuses into Redis for the API (which never talks
 * to Docker). Runs on a short interval; only apps whose views changed are written.
 */
export class StatusPublisher {
  private timer: NodeJS.Timeout | undefined;
  private readonly last = new Map<string, string>();
  private running: Promise<void> | undefined;

  constructor(private readonly stores: Stores, private readonly target: Target, private readonly intervalMs = 500) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.publish().catch((e: unknown) => console.error(`worker: status publish failed: ${(e as Error).message}`)).finally(() => {
        this.running = undefined;
      });
    }, this.intervalMs);
  }

  async publish(): Promise<void> {
    for (const app of await this.stores.apps.list()) {
      const views = await this.target.status(app.name);
      const names = new Set(views.map((v) => v.name));
      for (const view of views) {
        const json = JSON.stringify(view);
        const key = `${app.name}/${view.name}`;
        if (this.last.get(key) === json) continue;
        await this.stores.pods.put(app.name, view);
        this.last.set(key, json);
      }
      for (const stored of await this.stores.pods.list(app.name)) {
        if (!names.has(stored.name)) {
          await this.stores.pods.remove(app.name, stored.name);
          this.last.delete(`${app.name}/${stored.name}`);
        }
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
