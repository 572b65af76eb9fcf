import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type HttpSettings, silentLog, type Log, type Upstream } from '@sidecar/core';
import type { RedisRouteTable, RoutingSettings } from '@sidecar/store';

/** What the control loop hands the data plane after each load: routes and each routed app's settings. */
export type RoutingState = Map<string, { http: HttpSettings; wakeOnRequest: boolean; upstreams: Upstream[] }>;

/**
 * Whether a request that finds no pod of the app in rotation is held while the app wakes (scale to zero): only
 * when there is something to wake. An app never deployed, or whose first deploy failed, gets its 503 at once
 * rather than after the hold. Pods in rotation count as a release: the first rollout sets the routes before the
 * release is stored, and the backend then has its wake server from the start (no second reload for it).
 */
export const wakeOnRequestFor = (s: RoutingSettings, upstreams: readonly Upstream[]): boolean =>
  s.scaleToZero && (s.released || upstreams.length > 0);

export interface RouteCacheOptions {
  table: RedisRouteTable;
  /** A connection for change messages (subscriber mode). */
  subscriber: Redis;
  log?: Log;
  /** Puts a loaded state in force; the version is acknowledged only once it resolves. */
  apply?: (state: RoutingState) => Promise<void>;
  /** Pods the data plane still drains (reported with each acknowledgement). */
  draining?: () => string[];
  heartbeatMs?: number;
}

/**
 * The router's control loop: its in-memory copy of the route table and of the routed
 * apps' HTTP settings. It reloads on every change message and on a heartbeat (in case a
 * message was missed while Redis was away, and to see settings changes), hands each state
 * to the data plane, then acknowledges the version it applied (the Docker target waits
 * for that before stopping old pods). While Redis is unreachable the last state keeps serving.
 */
export class RouteCache {
  readonly id = randomUUID();
  private routes = new Map<string, Upstream[]>();
  /** Apps with scale to zero on: a connection that finds no pod waits for them to wake. */
  private wakeable = new Set<string>();
  private version = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly cursor = new Map<string, number>();
  private failing = false;
  private readonly appliedListeners = new Set<() => void>();

  constructor(private readonly opts: RouteCacheOptions) {}

  async start(): Promise<void> {
    await this.opts.table.subscribe(this.opts.subscriber, () => void this.reload());
    await this.reload();
    this.heartbeat = setInterval(() => void this.reload(), this.opts.heartbeatMs ?? 2000);
  }

  /** Upstreams for an app, or undefined when the app is unknown. */
  lookup(app: string): Upstream[] | undefined {
    return this.routes.get(app);
  }

  /** Whether the app scales to zero (a request that finds no pod is held while it wakes). */
  wakesOnRequest(app: string): boolean {
    return this.wakeable.has(app);
  }

  /** Calls `listener` after each state the data plane put in force; returns how to stop. */
  onApplied(listener: () => void): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }

  /** Round-robin over an app's ready upstreams, skipping those in `exclude`. */
  pick(app: string, exclude: ReadonlySet<string> = new Set()): Upstream | undefined {
    const all = (this.routes.get(app) ?? []).filter((u) => !exclude.has(u.address));
    if (all.length === 0) return undefined;
    const n = (this.cursor.get(app) ?? 0) + 1;
    this.cursor.set(app, n);
    return all[n % all.length];
  }

  /** Reports the applied version and the draining pods now (e.g. a drain just ended). */
  async acknowledge(): Promise<void> {
    await this.opts.table.acknowledge(this.id, this.version, this.opts.draining?.() ?? []);
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
          const { version, routes } = await this.opts.table.all();
          const settings = await this.opts.table.routingSettingsOf([...routes.keys()]);
          const state: RoutingState = new Map(
            [...routes].map(([app, upstreams]) => {
              const s = settings.get(app)!;
              return [app, { http: s.http, wakeOnRequest: wakeOnRequestFor(s, upstreams), upstreams }];
            }),
          );
          await this.opts.apply?.(state);
          this.routes = routes;
          this.wakeable = new Set([...state].filter(([, s]) => s.wakeOnRequest).map(([app]) => app));
          this.version = version;
          for (const l of this.appliedListeners) l();
          await this.acknowledge();
          this.failing = false;
        } catch (e) {
          this.failing = true;
          // Keep serving the last applied state while Redis (or the data plane) is unavailable.
          (this.opts.log ?? silentLog).error({ err: e }, 'route reload failed; serving the last routes');
        }
      } while (this.again);
    })();
    try {
      await this.reloading;
    } finally {
      this.reloading = undefined;
    }
  }

  /** Whether the last load failed (Redis unreachable): the last applied state is still served. */
  get stale(): boolean {
    return this.failing;
  }

  get appliedVersion(): number {
    return this.version;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.opts.table.forget(this.id).catch(() => undefined);
  }
}
