import type { Redis } from 'ioredis';
import {
  type App,
  httpSettings,
  scaleToZeroSettings,
  silentLog,
  type HttpSettings,
  type Log,
  type RouteTable,
  type Upstream,
} from '@sidecar/core';
import type { Keys } from './keys.js';

/** An app's settings the router applies. */
export interface RoutingSettings {
  http: HttpSettings;
  /** Scale to zero is on. */
  scaleToZero: boolean;
  /** The app has a current release (it was deployed once). */
  released: boolean;
}

/** RouteTable.declare: KEYS app document, routes hash, version counter; ARGV the app. The new version, or 0. */
const DECLARE = `if redis.call('exists', KEYS[1]) == 1 and redis.call('hsetnx', KEYS[2], ARGV[1], '[]') == 1 then
  return redis.call('incr', KEYS[3])
end
return 0`;

/** How long a router's acknowledgement lives without renewal; a dead router stops being waited for. */
export const ROUTER_ACK_TTL_SECONDS = 15;

/**
 * The router table in Redis: `routes` hash app → upstreams, a version counter,
 * and a pub/sub message per change. Routers write the version they applied to
 * the `routers` hash; `set` waits (bounded) until every live router has it,
 * so the caller can stop pods it just took out of rotation without a failed request.
 */
export class RedisRouteTable implements RouteTable {
  /** Longer than a router's reload heartbeat (2 s), so a router that missed the message has caught up. */
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
    private readonly ackTimeoutMs = 6000,
    private readonly log: Log = silentLog,
  ) {}

  /** Calls `onChange` on every change message, on `subscriber` (a connection in subscriber mode). */
  async subscribe(subscriber: Redis, onChange: () => void): Promise<void> {
    subscriber.on('message', (channel: string) => {
      if (channel === this.k.routesChannel) onChange();
    });
    await subscriber.subscribe(this.k.routesChannel);
  }

  /**
   * What a router needs of these apps' settings, and only that of each app document (a router holds no
   * secret keys): `http`, whether scale to zero is on and whether the app has a release (what a request may
   * wake, route-cache.ts). An app stored without them, or with a document that cannot be read, gets the defaults.
   */
  async routingSettingsOf(apps: readonly string[]): Promise<Map<string, RoutingSettings>> {
    const raw = apps.length > 0 ? await this.redis.mget(apps.map((a) => this.k.app(a))) : [];
    return new Map(
      apps.map((app, i) => {
        let stored: Partial<Pick<App, 'http' | 'scaleToZero' | 'currentRelease'>> = {};
        try {
          stored = JSON.parse(raw[i] ?? '{}') as typeof stored;
        } catch {
          // Routed with the defaults.
        }
        return [
          app,
          {
            http: httpSettings(stored.http),
            scaleToZero: scaleToZeroSettings(stored.scaleToZero).enabled,
            released: (stored.currentRelease ?? null) !== null,
          },
        ];
      }),
    );
  }

  async set(app: string, upstreams: Upstream[]): Promise<void> {
    await this.change((m) => m.hset(this.k.routes, app, JSON.stringify(upstreams)));
  }

  async declare(app: string): Promise<void> {
    // Only for an app that exists (its removal may be under way) and has no routes (a rollout may be
    // setting them meanwhile); a new version only if it was added. One script: nothing in between.
    const version = (await this.redis.eval(
      DECLARE,
      3,
      this.k.app(app),
      this.k.routes,
      this.k.routesVersion,
      app,
    )) as number;
    if (version > 0) await this.redis.publish(this.k.routesChannel, String(version));
  }

  async get(app: string): Promise<Upstream[]> {
    const raw = await this.redis.hget(this.k.routes, app);
    return raw ? (JSON.parse(raw) as Upstream[]) : [];
  }

  async all(): Promise<{ version: number; routes: Map<string, Upstream[]> }> {
    const [[, version], [, table]] = (await this.redis
      .multi()
      .get(this.k.routesVersion)
      .hgetall(this.k.routes)
      .exec()) as [[unknown, string | null], [unknown, Record<string, string>]];
    const routes = new Map(Object.entries(table).map(([app, raw]) => [app, JSON.parse(raw) as Upstream[]]));
    return { version: Number(version ?? 0), routes };
  }

  async remove(app: string): Promise<void> {
    await this.change((m) => m.hdel(this.k.routes, app));
  }

  /**
   * Called by each router after applying a version, and periodically as its heartbeat, with the
   * pods it still has connections to after they left rotation (draining).
   */
  async acknowledge(routerId: string, version: number, draining: readonly string[] = []): Promise<void> {
    await this.redis.hset(this.k.routers, routerId, JSON.stringify({ version, seenAt: Date.now(), draining }));
  }

  /** The pods live routers still drain (for status and tests). */
  async routersDraining(): Promise<string[]> {
    const routers = Object.values(await this.redis.hgetall(this.k.routers)).map(
      (raw) => JSON.parse(raw) as { seenAt: number; draining?: string[] },
    );
    const live = routers.filter((r) => Date.now() - r.seenAt < ROUTER_ACK_TTL_SECONDS * 1000);
    return [...new Set(live.flatMap((r) => r.draining ?? []))];
  }

  /**
   * Resolves once no live router drains any of these pods (upgraded connections such as WebSockets
   * may stay open up to the app's drain limit, which the routers enforce), or after `limitMs`.
   */
  async waitForDrain(pods: readonly string[], limitMs: number): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (Date.now() < deadline) {
      const draining = await this.routersDraining();
      if (!draining.some((p) => pods.includes(p))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async forget(routerId: string): Promise<void> {
    await this.redis.hdel(this.k.routers, routerId);
  }

  private async change(op: (m: ReturnType<Redis['multi']>) => unknown): Promise<void> {
    const m = this.redis.multi();
    op(m);
    m.incr(this.k.routesVersion);
    const res = await m.exec();
    const version = Number(res?.[1]?.[1]);
    await this.redis.publish(this.k.routesChannel, String(version));
    await this.waitForRouters(version);
  }

  private async waitForRouters(version: number): Promise<void> {
    const deadline = Date.now() + this.ackTimeoutMs;
    while (Date.now() < deadline) {
      const routers = Object.values(await this.redis.hgetall(this.k.routers)).map(
        (raw) => JSON.parse(raw) as { version: number; seenAt: number },
      );
      const live = routers.filter((r) => Date.now() - r.seenAt < ROUTER_ACK_TTL_SECONDS * 1000);
      if (live.every((r) => r.version >= version)) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    this.log.warn({ version, waitedMs: this.ackTimeoutMs }, 'a router did not acknowledge a route version; continuing');
  }
}
