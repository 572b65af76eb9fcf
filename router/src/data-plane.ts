import pLimit from 'p-limit';
import type { HttpSettings, Log, Upstream } from '@sidecar/core';
import type { HaproxyProcess } from './haproxy/haproxy-process.js';
import type { WorkerStats } from './haproxy/workers.js';
import {
  backendOf,
  type DataPlaneSettings,
  hostsMapText,
  type PlannedApp,
  renderConfig,
  serverOptions,
} from './haproxy/render-config.js';

/** What the control loop wants served: per app, its settings and the pods in HTTP rotation. */
export type DesiredState = Map<string, { http: HttpSettings; wakeOnRequest?: boolean; upstreams: Upstream[] }>;

/** What of an app's settings is in HAProxy's configuration: a change rewrites it. */
const settingsKey = (http: HttpSettings, wakeOnRequest: boolean | undefined) =>
  JSON.stringify([http, wakeOnRequest ?? false]);

interface Draining {
  app: string;
  pod: string;
  deadline: number;
}

/**
 * Keeps HAProxy serving the desired state. Pods come and go through the runtime API (no reload:
 * open connections and keep-alive pools stay); a new or removed app or changed settings rewrite the
 * configuration and reload. A pod that leaves rotation is drained: it gets no new requests, its open
 * connections (upgraded ones: WebSockets) may go on until its app's `drainSeconds`, then are shut;
 * only then is it deleted and no longer reported as draining (the Docker target waits for that
 * before stopping the pod).
 */
export class DataPlane {
  /** What HAProxy serves now: app → settings key and pod → address. */
  private applied = new Map<string, { settings: string; drainMs: number; servers: Map<string, string> }>();
  private readonly draining = new Map<string, Draining>();
  private started = false;

  constructor(
    private readonly haproxy: HaproxyProcess,
    private readonly log: Log,
    private readonly settings: DataPlaneSettings,
  ) {}

  /** Applies a desired state; resolves once HAProxy serves it. Calls must not overlap (the route cache serializes them). */
  async apply(desired: DesiredState): Promise<void> {
    const structure = (m: Map<string, string>) => JSON.stringify([...m.entries()].sort());
    const wanted = new Map([...desired].map(([app, d]) => [app, settingsKey(d.http, d.wakeOnRequest)]));
    const current = new Map([...this.applied].map(([app, a]) => [app, a.settings]));
    if (!this.started || structure(wanted) !== structure(current)) return this.rewrite(desired);
    for (const [app, d] of desired) await this.applyServers(app, d.upstreams);
  }

  /** Whether HAProxy serves a configuration of this router's. */
  get isRunning(): boolean {
    return this.started;
  }

  /** Pods (by name) whose connections are still draining. */
  drainingPods(): string[] {
    return [...this.draining.values()].map((d) => d.pod);
  }

  /**
   * Called about twice a second and after each change: deletes drained pods, shuts those past their
   * deadline. Every worker counts: after a reload the one replaced keeps the connections it had, pods'
   * draining ones included. One tick at a time (a call during one waits for it, then ticks).
   */
  tick(now?: number): Promise<void> {
    return this.oneAtATime(() => this.tickOnce(now ?? Date.now()));
  }

  private readonly oneAtATime = pLimit(1);

  private async tickOnce(now: number): Promise<void> {
    if (this.draining.size === 0) return;
    const workers = await this.haproxy.workers.servers();
    const current = workers.find((w) => w.current);
    // The current worker exited as it was read (a reload): decide nothing on half a picture.
    if (!current) return;
    const rowOf = (w: WorkerStats, server: string) => w.rows.find((r) => `${r.pxname}/${r.svname}` === server);
    const plan = [...this.draining].map(([key, d]) => {
      const server = `${backendOf(d.app)}/${d.pod}`;
      return { key, d, server, holding: workers.filter((w) => Number(rowOf(w, server)?.scur ?? 0) > 0) };
    });
    const due = new Map<WorkerStats, string[]>();
    for (const p of plan)
      if (now >= p.d.deadline) for (const w of p.holding) due.set(w, [...(due.get(w) ?? []), p.server]);
    for (const [w, servers] of due) await this.haproxy.workers.shutdownSessions(w, servers);

    for (const { key, d, server, holding } of plan) {
      if (holding.length > 0 && now < d.deadline) continue;
      // After a reload the current worker may never have had it: nothing to delete there.
      if (rowOf(current, server)) {
        try {
          await this.haproxy.api.run([`del server ${server}`]);
        } catch (e) {
          // Its sessions, just shut, still closing: the next tick deletes it.
          if (!holding.includes(current)) this.log.warn({ server, err: e }, 'removing a drained server failed');
          continue;
        }
      }
      // A replaced worker's shut sessions are gone by the next tick, which looks again.
      if (holding.some((w) => !w.current)) continue;
      this.draining.delete(key);
      this.applied.get(d.app)?.servers.delete(d.pod);
    }
  }

  private async rewrite(desired: DesiredState): Promise<void> {
    const apps: PlannedApp[] = [...desired]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, d]) => ({
        name,
        http: d.http,
        wakeOnRequest: d.wakeOnRequest ?? false,
        servers: d.upstreams.map((u) => ({ pod: u.pod, address: u.address })),
      }));
    await this.haproxy.write(renderConfig(this.settings, apps), hostsMapText(apps, this.settings.domain));
    if (this.started) await this.haproxy.reload();
    else {
      const how = await this.haproxy.start();
      this.log.info({ threads: this.settings.threads }, `HAProxy ${how}`);
      this.started = true;
    }
    // The old worker keeps the connections it has: pods it served that the new configuration does not are
    // draining from now on (tick() reads and shuts them on every worker), pods draining before stay so, and a
    // pod the new configuration serves again is not draining.
    const served = (app: string, pod: string) => desired.get(app)?.upstreams.some((u) => u.pod === pod) ?? false;
    for (const [app, a] of this.applied)
      for (const pod of a.servers.keys()) {
        const server = `${backendOf(app)}/${pod}`;
        if (!served(app, pod) && !this.draining.has(server))
          this.draining.set(server, { app, pod, deadline: Date.now() + a.drainMs });
      }
    for (const [key, d] of this.draining) if (served(d.app, d.pod)) this.draining.delete(key);
    this.applied = new Map(
      apps.map((a) => [
        a.name,
        {
          settings: settingsKey(a.http, a.wakeOnRequest),
          drainMs: a.http.drainSeconds * 1000,
          servers: new Map(a.servers.map((s) => [s.pod, s.address])),
        },
      ]),
    );
  }

  private async applyServers(app: string, upstreams: Upstream[]): Promise<void> {
    const applied = this.applied.get(app)!;
    const backend = backendOf(app);
    const wanted = new Map(upstreams.map((u) => [u.pod, u.address]));
    for (const [pod, address] of wanted) {
      const server = `${backend}/${pod}`;
      const had = applied.servers.get(pod);
      if (had === address && !this.draining.has(server)) continue;
      if (had !== undefined) {
        // Back in rotation before its drain ended (or at a new address): same server, ready again.
        const [host, port] = address.split(':');
        await this.haproxy.api.run([
          ...(had !== address ? [`set server ${server} addr ${host} port ${port}`] : []),
          `set server ${server} health up`,
          `set server ${server} state ready`,
        ]);
        this.draining.delete(server);
      } else {
        // A pod draining since before a reload (held by the old worker) may come back: it is served again.
        this.draining.delete(server);
        await this.haproxy.api.run([`add server ${server} ${serverOptions(address)}`]);
        await this.haproxy.api.run([
          `enable health ${server}`,
          `set server ${server} health up`,
          `enable server ${server}`,
        ]);
      }
      applied.servers.set(pod, address);
    }
    for (const pod of applied.servers.keys()) {
      const server = `${backend}/${pod}`;
      if (wanted.has(pod) || this.draining.has(server)) continue;
      await this.haproxy.api.run([`set server ${server} state maint`]);
      // A drained pod is deleted by tick(); until then it keeps its place (and name) in `applied`.
      this.draining.set(server, { app, pod, deadline: Date.now() + applied.drainMs });
    }
  }
}
