import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  type App,
  type DeployJobPayload,
  DeploySource,
  httpSettings,
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
  target: Pick<Target, 'suspend' | 'wake' | 'isSuspended' | 'status'>;
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

type AppSettings = Omit<App, 'secrets'>;

/**
 * Scale to zero, the worker's half (docs/scale-to-zero.md): an app with it on that had no traffic
 * for `idleSeconds` is suspended (under its app lock, so never during a rollout); a router's wake
 * request brings it back at once, without the lock (a wake never waits for a build). The target's
 * record of suspended pods is the truth: the app's status follows it (`idle` while suspended,
 * `running` otherwise), set after every suspend and wake and checked by every sweep.
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
      wake = this.wakeNow(app)
        .catch((e: unknown) => this.log.error({ app, err: e }, 'waking the app failed'))
        .finally(() => this.waking.delete(app));
      this.waking.set(app, wake);
    }
    return wake;
  }

  private async wakeNow(app: string): Promise<void> {
    const { stores, target } = this.deps;
    const before = await stores.apps.find(app);
    if (!before) return; // deleted meanwhile: nothing to wake, nothing to record
    // The idle clock starts again now, before the pods serve: the sweep must not take them at once.
    await stores.activity.touch(new Map([[app, Date.now()]]));
    if (await target.wake?.(app)) {
      await stores.activity.clearSuspended(app);
      await this.followTarget(app);
      await this.deps.publishStatus(app);
    }
    // Nothing serves although the app was idle (its suspended pods are gone): start its release again.
    if (before.status === 'idle' && !(await this.hasServingPods(app))) await this.restart(app);
  }

  /** Suspends every app with scale to zero on whose traffic stopped `idleSeconds` ago. */
  async sweep(now = Date.now()): Promise<void> {
    const { stores, target } = this.deps;
    const apps = await stores.apps.listSettings();
    for (const a of apps) {
      // Turned off while suspended: nothing would wake it any more (the router holds requests only while it is on).
      if (target.isSuspended?.(a.name) && !scaleToZeroSettings(a.scaleToZero).enabled) await this.wake(a.name);
      // A status that drifted from the truth (e.g. a failed deploy of an idle app said `running`).
      else if ((a.status === 'idle') !== (target.isSuspended?.(a.name) ?? false)) await this.followTarget(a.name);
    }
    const candidates = apps.filter((a) => isCandidate(a) && !target.isSuspended?.(a.name));
    if (candidates.length === 0) return;
    const last = await stores.activity.lastActive(candidates.map((a) => a.name));
    // An app never seen by a router starts its clock now.
    const unseen = candidates.filter((a) => !last.has(a.name));
    await stores.activity.touch(new Map(unseen.map((a) => [a.name, now])));
    for (const app of candidates) {
      const at = last.get(app.name);
      if (at === undefined || !idleSince(app, at, now) || this.waking.has(app.name)) continue;
      await this.suspend(app.name);
    }
  }

  private async suspend(name: string): Promise<void> {
    const { stores, target } = this.deps;
    // The app lock: no rollout of the app runs meanwhile (one that is queued waits for it).
    const lock = await stores.locks.app(name).tryAcquire(`idle@${randomUUID()}`);
    if (!lock) return;
    try {
      // Looked at again under the lock: the app and its traffic may have changed since the sweep read them.
      const app = await stores.apps.find(name);
      const at = (await stores.activity.lastActive([name])).get(name);
      if (!app || !isCandidate(app) || at === undefined || !idleSince(app, at, Date.now())) return;
      const pods = (await target.suspend?.(name, { drainSeconds: httpSettings(app.http).drainSeconds })) ?? [];
      if (pods.length === 0) return;
      await stores.activity.recordSuspended(name, pods);
      await this.followTarget(name);
      await this.deps.publishStatus(name);
    } finally {
      await lock.release();
    }
  }

  /**
   * The app's status after the target's truth: `idle` while its pods are suspended, `running` once pods
   * serve (only between those two: a deploy's own statuses are left alone). An app neither suspended nor
   * served stays as it is: `idle` then means its next request starts it again. Suspension is read inside
   * the update, so the last of a suspend and a wake racing each other writes what is true after both.
   */
  private async followTarget(name: string): Promise<void> {
    const serving = await this.hasServingPods(name);
    await this.deps.stores.apps
      .update(name, (a) => {
        if (a.status !== 'idle' && a.status !== 'running') return a;
        const status = this.deps.target.isSuspended?.(name) ? 'idle' : serving ? 'running' : a.status;
        return a.status === status ? a : { ...a, status };
      })
      .catch((e: unknown) => this.log.warn({ app: name, err: e }, 'updating the app status failed'));
  }

  private async hasServingPods(app: string): Promise<boolean> {
    return (await this.deps.target.status(app)).some((p) => p.ready && !p.suspended);
  }

  /**
   * An app still `idle` with no suspended pod to thaw (they were removed, or the host restarted): its
   * current release is started again, as a deploy of its own (source `wake`) the held requests wait for.
   * Once: the app is `deploying` then, and the routers' repeated wake requests find it so.
   */
  private async restart(name: string): Promise<void> {
    const { stores } = this.deps;
    const app = await stores.apps.find(name);
    if (!app || app.currentRelease === null) return;
    const release = app.currentRelease;
    const claimed = await stores.apps.update(name, (a) =>
      a.status === 'idle' || a.status === 'running' ? { ...a, status: 'deploying' } : a,
    );
    if (claimed.status !== 'deploying' || app.status === 'deploying') return;
    const now = new Date().toISOString();
    const deploy = {
      ...newDeploy({ id: newId('d'), app: name, source: DeploySource.wake, bundleDigest: null }),
      status: 'deploying' as const,
      release,
      startedAt: now,
      builtAt: now,
    };
    await stores.deploys.create(deploy);
    await stores.deployLog.append(
      deploy.id,
      `deploy ${deploy.id}: a request woke the idle app and none of its suspended pods was left: starting v${release} again`,
    );
    await stores.activity.clearSuspended(name);
    await this.deps.enqueueDeploy({ deployId: deploy.id, app: name, release });
    this.log.info({ app: name, deploy: deploy.id }, 'woken with no suspended pod left: starting its release again');
  }
}

const isCandidate = (a: AppSettings) =>
  scaleToZeroSettings(a.scaleToZero).enabled && a.status === 'running' && a.currentRelease !== null && a.replicas > 0;

const idleSince = (a: AppSettings, lastActive: number, now: number) =>
  now - lastActive >= scaleToZeroSettings(a.scaleToZero).idleSeconds * 1000;
