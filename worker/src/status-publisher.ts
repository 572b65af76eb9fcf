import { silentLog, type Log, type Target } from '@sidecar/core';
import type { Stores } from '@sidecar/store';

/**
 * Mirrors the target's pod statuses into Redis for the API (which never talks
 * to Docker): on a short interval, and at once after a rollout or removal so a
 * deploy that reports success never shows stale pods. Publishes are serialized,
 * so an older snapshot can never overwrite a newer one.
 */
export class StatusPublisher {
  private timer: NodeJS.Timeout | undefined;
  private readonly last = new Map<string, string>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly stores: Stores,
    private readonly target: Target,
    private readonly intervalMs = 500,
    private readonly log: Log = silentLog,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      void this.publishAll().catch((e: unknown) => this.log.error({ err: e }, 'status publish failed'));
    }, this.intervalMs);
  }

  publishAll(): Promise<void> {
    return this.serialized(async () => {
      for (const app of await this.stores.apps.list()) await this.write(app.name);
    });
  }

  publishApp(app: string): Promise<void> {
    return this.serialized(() => this.write(app));
  }

  private serialized(work: () => Promise<void>): Promise<void> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async write(app: string): Promise<void> {
    const views = await this.target.status(app);
    const names = new Set(views.map((v) => v.name));
    for (const view of views) {
      const json = JSON.stringify(view);
      const key = `${app}/${view.name}`;
      if (this.last.get(key) === json) continue;
      await this.stores.pods.put(app, view);
      this.last.set(key, json);
    }
    for (const stored of await this.stores.pods.list(app)) {
      if (!names.has(stored.name)) {
        await this.stores.pods.remove(app, stored.name);
        this.last.delete(`${app}/${stored.name}`);
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.chain;
  }
}
