import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  type App,
  type DeployJobPayload,
  DeploySource,
  newDeploy,
  scaleToZeroSettings,
  silentLog,
  type Log,
  type Target,
} from '@sidecar/core';
import { newId, type Stores } from '@sidecar/store';
import { Periodic } from './periodic.js';

export interface ScaleToZeroDeps {
  stores: Stores;
  /** A target that can suspend and wake apps (the Docker target); others never suspend. */
  target: Pick<Target, 'suspend' | 'wake'>;
  /** A connection in subscriber mode, for the routers' wake requests. */
  subscriber: Redis;
  /** Brings the API's pod views up to date for an app. */
  publishStatus: (app: string) => Promise<void>;
  /** Queues a rollout (the deploy queue), for an idle app whose suspended pods are gone. */
  enqueueDeploy: (payload: DeployJobPayload) => Promise<unknown>;
  log?: Log;
  /** How often idle apps are looked for (default 1 s; the routers report traffic every 2 s). */
  sweepMs?: number;
}

/**
 * Scale to zero, the worker's half (docs/scale-to-zero.md): an app with it on that had no traffic
 * for `idleSeconds` is suspended (under its app lock, so never during a rollout) and shown `idle`; a
 * router's wake request brings it back at once, without the lock (a wake never waits for a build).
 */
export class ScaleToZero {
  private readonly log: Log;
  private readonly sweeper: Periodic;
  /** Per app, the wake in progress (concurrent requests of one app ask many times). */
  private readonly waking = new Map<string, Promise<void>>();

  constructor(private readonly deps: ScaleToZeroDeps) {
    this.log = deps.log ?? silentLog;
    this.sweeper = new Periodic('idle sweep', () => this.sweep(), deps.sweepMs ?? 1000, this.log);
  }

  async start(): Promise<void> {
    if (!this.deps.target.suspend || !this.deps.target.wake) return;
    await this.deps.stores.activity.onWake(this.deps.subscriber, (app) => void this.wake(app));
    this.sweeper.start();
  }

  async close(): Promise<void> {
    await this.sweeper.close();
    await Promise.allSettled(this.waking.values());
  }

  /** Wakes a suspended app; a no-op for one that is not. Never rejects (a failure is logged). */
  wake(app: string): Promise<void> {
    let wake = this.waking.get(app);
    if (!wake) {
      wake = (async () => {
        const { stores } = this.deps;
        // The idle clock starts again now, before the pods serve: the sweep must not take them at once.
        await stores.activity.touch(new Map([[app, Date.now()]]));
        if (!(await this.deps.target.wake?.(app))) return await this.restart(app);
        await stores.apps.update(app, (a) => (a.status === 'idle' ? { ...a, status: 'running' } : a));
        await this.deps.publishStatus(app);
      })()
        .catch((e: unknown) => this.log.error({ app, err: e }, 'waking the app failed'))
        .finally(() => this.waking.delete(app));
      this.waking.set(app, wake);
    }
    return wake;
  }

  /**
   * An app still `idle` with no suspended pod to thaw (they were removed, or the host restarted): its
   * current release is started again, as a deploy of its own (source `wake`) the held requests wait for.
   * Once: the app is `deploying` then, and the routers' repeated wake requests find it so.
   */
  private async restart(name: string): Promise<void> {
    const { stores } = this.deps;
    const app = await stores.apps.find(name);
    if (app?.status !== 'idle' || app.currentRelease === null) return;
    const now = new Date().toISOString();
    const deploy = {
      ...newDeploy({ id: newId('d'), app: name, source: DeploySource.wake, bundleDigest: null }),
      status: 'deploying' as const,
      release: app.currentRelease,
      startedAt: now,
      builtAt: now,
    };
    const claimed = await stores.apps.update(name, (a) => (a.status === 'idle' ? { ...a, status: 'deploying' } : a));
    if (claimed.status !== 'deploying') return;
    await stores.deploys.create(deploy);
    await stores.deployLog.append(
      deploy.id,
      `deploy ${deploy.id}: a request woke the idle app and none of its suspended pods was left: starting v${app.currentRelease} again`,
    );
    await this.deps.enqueueDeploy({ deployId: deploy.id, app: name, release: app.currentRelease });
    this.log.info({ app: name, deploy: deploy.id }, 'woken with no suspended pod left: starting its release again');
  }

  /** Suspends every app with scale to zero on whose traffic stopped `idleSeconds` ago. */
  async sweep(now = Date.now()): Promise<void> {
    const { stores } = this.deps;
    const apps = await stores.apps.list();
    // Turned off while idle: nothing would wake it any more (the router holds requests only while it is on).
    for (const a of apps)
      if (a.status === 'idle' && !scaleToZeroSettings(a.scaleToZero).enabled) await this.wake(a.name);
    const candidates = apps.filter(isCandidate);
    if (candidates.length === 0) return;
    const last = await stores.activity.lastActive(candidates.map((a) => a.name));
    // An app never seen by a router starts its clock now.
    const unseen = candidates.filter((a) => !last.has(a.name));
    await stores.activity.touch(new Map(unseen.map((a) => [a.name, now])));
    for (const app of candidates) {
      const at = last.get(app.name);
      if (at === undefined || now - at < scaleToZeroSettings(app.scaleToZero).idleSeconds * 1000) continue;
      if (this.waking.has(app.name)) continue;
      await this.suspend(app.name);
    }
  }

  private async suspend(name: string): Promise<void> {
    const { stores } = this.deps;
    // The app lock: no rollout of the app runs meanwhile (one that is queued waits for it).
    const lock = await stores.locks.app(name).tryAcquire(`idle@${randomUUID()}`);
    if (!lock) return;
    try {
      const app = await stores.apps.find(name);
      if (!app || !isCandidate(app)) return;
      // `idle` before the pods go: a wake asked for meanwhile runs after the suspend (the target orders
      // them) and sets `running` last.
      await stores.apps.update(name, (a) => (a.status === 'running' ? { ...a, status: 'idle' } : a));
      if (!(await this.deps.target.suspend?.(name))) {
        await stores.apps.update(name, (a) => (a.status === 'idle' ? { ...a, status: 'running' } : a));
        return;
      }
      await this.deps.publishStatus(name);
    } finally {
      await lock.release();
    }
  }
}

const isCandidate = (a: App) =>
  scaleToZeroSettings(a.scaleToZero).enabled && a.status === 'running' && a.currentRelease !== null && a.replicas > 0;
