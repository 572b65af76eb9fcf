import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Upstream } from '@sidecar/core';
import type { Keys, RedisRouteTable } from '@sidecar/store';

/**
 * The router's in-memory copy of the route table. It reloads on every change
 * message, acknowledges the version it applied (the Docker target waits for
 * that before stopping old pods), and reloads on a heartbeat in case a message
 * was missed while Redis was away.
 */
export class RouteCache {
  readonly id = randomUUID();
  private routes = new Map<string, Upstream[]>();
  private version = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly cursor = new Map<string, number>();

  constructor(
    private readonly table: RedisRouteTable,
    private readonly subscriber: Redis,
    private readonly k: Keys,
    private readonly heartbeatMs = 2000,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string) => {
      if (channel === this.k.routesChannel) void this.reload();
    });
    await this.subscriber.subscribe(this.k.routesChannel);
    await this.reload();
    this.heartbeat = setInterval(() => void this.reload(), this.heartbeatMs);
  }

  /** Upstreams for an app, or undefined when the app is unknown. */
  lookup(app: string): Upstream[] | undefined {
    return this.routes.get(app);
  }

  /** Round-robin over an app's ready upstreams, skipping those in `exclude`. */
  pick(app: string, exclude: ReadonlySet<string> = new Set()): Upstream | undefined {
    const all = (this.routes.get(app) ?? []).filter((u) => !exclude.has(u.address));
    if (all.length === 0) return undefined;
    const n = (this.cursor.get(app) ?? 0) + 1;
    this.cursor.set(app, n);
    return all[n % all.length];
  }

  private reloading: Promise<void> | undefined;
  private again = false;

  /** Coalesces bursts of change messages into at most one reload in flight plus one queued. */
  private async reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.again = false;
        try {
          const { version, routes } = await this.table.all();
          this.routes = routes;
          this.version = version;
          await this.table.acknowledge(this.id, version);
        } catch (e) {
          // Keep serving the last known table while Redis is unreachable.
          console.error(`router: route reload failed: ${(e as Error).message}`);
        }
      } while (this.again);
    })();
    try {
      await this.reloading;
    } finally {
      this.reloading = undefined;
    }
  }

  get appliedVersion(): number {
    return this.version;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.table.forget(this.id).catch(() => undefined);
  }
}
