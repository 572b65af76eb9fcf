import { randomBytes } from 'node:crypto';
import { Labels, silentLog, type Log } from '@sidecar/core';
import type Docker from 'dockerode';
import { NETNS_HOLDER_LABEL, NETNS_ROLE, POOL_OWNER_LABEL, netnsHolderCreateOptions } from './container-options.js';
import { createOnPodNetwork, startOnPodNetwork } from './pod-addresses.js';
import { ensurePodNetwork, forgetPodNetwork, isNotFound, removeContainer } from './pod-sandbox.js';
import { ownerGone, poolOwner } from './pool-owner.js';

/**
 * Warm network namespaces for new pods.
 *
 * Starting a container that gets a network namespace of its own (a pod's pause container) costs
 * ~350–450 ms on Docker 20.10: veth pair, bridge port, IP allocation. A container
 * that joins an existing namespace (`NetworkMode: container:<id>`) starts in ~150 ms. So the pool
 * keeps a few *network holders* started ahead of time — pause-image containers on the pod network
 * exposing a given set of ports — and a new pod's pause container joins one instead of creating
 * its own namespace. The pause container stays the pod's identity (its labels, the stored spec);
 * it records its holder in a label, and the holder is removed with the pod.
 *
 * Pools are keyed by the set of exposed ports (8080 for most apps, 8080+8443 with TLS): a pod's
 * sandbox records the ports it declares (pod-sandbox.ts). A
 * port set is warmed once a pod has asked for it, up to `maxPortSets` sets; a miss takes the
 * ordinary path (the pause container creates its own namespace), unless a holder for those ports is
 * being created right then: one such pod waits for it (`claimSoon`). Refills wait `refillDelayMs`
 * after a claim (later claims do not move it: claims closer together than the delay, as back-to-back
 * pod starts make them, kept the pool empty), and then until no pod is starting (`podStarting`): a
 * holder is a container with its own network namespace, ~0.3–0.6 s of the engine's work here, and a
 * refill overlapping a pod's start slowed that start (cold rollbacks one after another took ~0.5 s
 * longer every other time, docs/benchmarks.md). Even an empty set waits: the pod that took its last holder would pay for the
 * refill now, while the next pod pays only if it comes before the refill is done (then it makes its own
 * namespace, as on a miss, or waits for the holder being created). A holder waits at most
 * `maxRefillWaitMs` (10 s), so that pods starting one after another (or one that never gets ready)
 * cannot keep the pool empty.
 *
 * Ownership (pool-owner.ts): holders carry the owning process and pool. A holder is claimed only by
 * that pool, in memory first and then on the engine (the pod's pause container names it); so between
 * the two, only its owner knows it is taken. Hence the one rule for sweeping: another pool removes a
 * holder only when the owner process is gone (no claim of it can be in flight then) and no pause
 * container names it; a live owner's holders, whatever their state, are its own to use or remove.
 * Claimed holders belong to their pod, which removes them.
 */
export interface NetnsPoolOptions {
  docker: Docker;
  pauseImage: string;
  platformId?: string;
  /** Holders kept started per port set (default 2). 0 turns the pool off. */
  size?: number;
  /** Port sets warmed from the start (e.g. [[8080]]). */
  warm?: number[][];
  refillDelayMs?: number;
  /** The longest a refill waits for pod starts to end (default 10 s): steady starts must not keep the pool empty. */
  maxRefillWaitMs?: number;
  maxPortSets?: number;
  /** A port set not asked for in this long stops being warmed (default 1 h); configured sets always stay. */
  staleMs?: number;
  /** The clock (tests). */
  now?: () => number;
  /** Where a failed refill is reported (default: nowhere). */
  log?: Log;
}

const DEFAULT_SIZE = 2;
const DEFAULT_REFILL_DELAY_MS = 1500;
const DEFAULT_MAX_PORT_SETS = 4;
const STALE_PORT_SET_MS = 60 * 60_000;
/** A pod start marked longer than this no longer holds refills back (one that never gets ready). */
const MAX_START_MS = 30_000;
const DEFAULT_MAX_REFILL_WAIT_MS = 10_000;

/** A holder being created, and the claim waiting for it (NetnsPool.claimSoon), if any. */
interface Creation {
  waiter?: (id: string | undefined) => void;
}

const keyOf = (ports: readonly number[]): string => [...new Set(ports)].sort((a, b) => a - b).join(',');
const portsOf = (key: string): number[] => (key === '' ? [] : key.split(',').map(Number));

export class NetnsPool {
  /** Which process (and which of its pools) a waiting holder belongs to (pool-owner.ts). */
  readonly owner = poolOwner(randomBytes(3).toString('hex'));
  private readonly size: number;
  private readonly refillDelayMs: number;
  private readonly maxPortSets: number;
  /** Ids of started, unclaimed holders per port-set key. */
  private readonly ready = new Map<string, string[]>();
  /** When each port set was last asked for (see NetnsPoolOptions.staleMs). */
  private readonly asked = new Map<string, number>();
  private refillTimer: NodeJS.Timeout | undefined;
  /** The fill in progress, awaited by close() so that no holder is created after it. */
  private filled: Promise<void> = Promise.resolve();
  private closed = false;
  private started: Promise<void> | undefined;
  private readonly now: () => number;
  /** Pod starts in flight (podStarting) and the refills waiting for them to end. */
  private starting = 0;
  private readonly quietWaiters = new Set<() => void>();
  /** The holder being created per port-set key, and the one claim that missed meanwhile and waits for it. */
  private readonly creating = new Map<string, Creation>();

  constructor(private readonly opts: NetnsPoolOptions) {
    this.size = opts.size ?? DEFAULT_SIZE;
    this.refillDelayMs = opts.refillDelayMs ?? DEFAULT_REFILL_DELAY_MS;
    this.maxPortSets = opts.maxPortSets ?? DEFAULT_MAX_PORT_SETS;
    this.now = opts.now ?? Date.now;
  }

  /** Removes dead owners' leftovers, then warms the configured port sets. Resolves when they are warm. */
  start(): Promise<void> {
    this.started ??= (async () => {
      if (this.size === 0) return;
      await this.removeOrphans();
      for (const ports of this.opts.warm ?? []) this.ready.set(keyOf(ports), []);
      await this.refill();
    })();
    return this.started;
  }

  /**
   * A started holder exposing exactly `ports`, now the caller's (it must remove it when
   * done), or undefined on a miss. A miss marks the port set for warming.
   */
  claim(ports: readonly number[]): string | undefined {
    if (this.size === 0 || this.closed) return undefined;
    const key = keyOf(ports);
    this.asked.set(key, this.now());
    let holders = this.ready.get(key);
    if (!holders && this.ready.size < this.maxPortSets) this.ready.set(key, (holders = []));
    if (!holders) return undefined; // as many port sets as allowed are warm already: nothing to refill
    const holder = holders.shift();
    this.scheduleRefill();
    return holder;
  }

  /**
   * As claim(), but a miss while a holder for these ports is being created waits for that one (one such claim
   * per creation): it is started sooner than a namespace the pod would make beside it, and without the two
   * competing for the engine. Undefined on any other miss, or when that creation fails or the pool closes.
   */
  claimSoon(ports: readonly number[]): Promise<string | undefined> {
    const id = this.claim(ports);
    const creation = this.creating.get(keyOf(ports));
    if (id !== undefined || this.closed || !creation || creation.waiter) return Promise.resolve(id);
    return new Promise((resolve) => (creation.waiter = resolve));
  }

  /** Whether a holder for these ports is being created now (for tests). */
  isCreating(ports: readonly number[]): boolean {
    return this.creating.has(keyOf(ports));
  }

  /**
   * Marks a pod start in flight until the returned function is called (safe twice; it also ends by
   * itself after MAX_START_MS): meanwhile refills wait.
   */
  podStarting(): () => void {
    this.starting++;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      this.starting--;
      if (this.starting === 0) this.wakeQuietWaiters();
    };
    const timer = setTimeout(end, MAX_START_MS);
    timer.unref();
    return end;
  }

  /** Resolves once no pod start is marked, the pool is closed, or `maxMs` have passed. */
  private quiet(maxMs: number): Promise<void> {
    if (this.starting === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = () => {
        clearTimeout(timer);
        this.quietWaiters.delete(waiter);
        resolve();
      };
      const timer = setTimeout(waiter, maxMs);
      timer.unref();
      this.quietWaiters.add(waiter);
    });
  }

  private wakeQuietWaiters(): void {
    for (const waiter of [...this.quietWaiters]) waiter();
  }

  /** How many fills wait for the pod starts to end (0 or 1; for tests and metrics). */
  refillsWaiting(): number {
    return this.quietWaiters.size;
  }

  /** How many started holders wait per port set (for tests and metrics). */
  available(ports: readonly number[]): number {
    return this.ready.get(keyOf(ports))?.length ?? 0;
  }

  /** Stops refilling and removes every unclaimed holder. Safe twice. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refillTimer);
    this.refillTimer = undefined;
    this.wakeQuietWaiters();
    await this.started?.catch(() => undefined);
    await this.filled.catch(() => undefined);
    const holders = [...this.ready.values()].flat();
    this.ready.clear();
    await Promise.all(holders.map((id) => this.remove(id)));
  }

  private scheduleRefill(): void {
    // Not moved by later claims: claims closer together than the delay would otherwise keep the pool empty.
    if (this.refillTimer !== undefined) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      void this.refill().catch((e: unknown) =>
        (this.opts.log ?? silentLog).error({ err: e }, 'netns pool: refill failed'),
      );
    }, this.refillDelayMs);
    this.refillTimer.unref();
  }

  /** One fill at a time, after the one in progress. */
  private refill(): Promise<void> {
    this.filled = this.filled.catch(() => undefined).then(() => this.fill());
    return this.filled;
  }

  /**
   * Tops every warmed port set up to `size`, one holder at a time (a pool never competes with itself),
   * after dropping the sets nobody asked for lately (the configured ones stay); emptiest set first, each
   * holder once no pod is starting.
   */
  private async fill(): Promise<void> {
    const configured = new Set((this.opts.warm ?? []).map(keyOf));
    for (const [key, holders] of this.ready) {
      if (configured.has(key) || this.now() - (this.asked.get(key) ?? 0) < (this.opts.staleMs ?? STALE_PORT_SET_MS))
        continue;
      this.ready.delete(key);
      await Promise.all(holders.map((id) => this.remove(id)));
    }
    const maxWaitMs = this.opts.maxRefillWaitMs ?? DEFAULT_MAX_REFILL_WAIT_MS;
    let waitingSince: number | undefined;
    while (!this.closed) {
      const sets = [...this.ready];
      const next = sets.find(([, h]) => h.length === 0) ?? sets.find(([, h]) => h.length < this.size);
      if (!next) return;
      const [key, holders] = next;
      // Woken when the starts end, the pool closes or the wait is at its limit: then look again (a claim
      // may have come meanwhile). Each holder waits at most maxWaitMs, so steady starts cannot keep a set empty.
      waitingSince ??= Date.now();
      const waited = Date.now() - waitingSince;
      if (this.starting > 0 && waited < maxWaitMs) {
        await this.quiet(maxWaitMs - waited);
        continue;
      }
      waitingSince = undefined;
      const creation: Creation = {};
      this.creating.set(key, creation);
      let id: string;
      try {
        id = await this.createHolder(portsOf(key));
      } catch (e) {
        creation.waiter?.(undefined);
        throw e;
      } finally {
        this.creating.delete(key);
      }
      if (this.closed) {
        creation.waiter?.(undefined);
        await this.remove(id);
      } else if (creation.waiter) creation.waiter(id);
      else holders.push(id);
    }
  }

  private async createHolder(ports: number[]): Promise<string> {
    const network = await ensurePodNetwork(this.opts.docker, this.opts.log);
    const name = `sidecar-holder-${randomBytes(6).toString('hex')}`;
    const options = (address: string | undefined) =>
      netnsHolderCreateOptions({
        name,
        image: this.opts.pauseImage,
        network,
        ports,
        owner: this.owner,
        ...(this.opts.platformId !== undefined ? { platformId: this.opts.platformId } : {}),
        ...(address !== undefined ? { address } : {}),
      });
    const c = await createOnPodNetwork(this.opts.docker, network, options, this.opts.log).catch((e: unknown) => {
      if (isNotFound(e)) forgetPodNetwork(this.opts.docker); // the pod network was removed: look it up afresh next time
      throw e;
    });
    try {
      await startOnPodNetwork(this.opts.docker, c.id, this.opts.log);
    } catch (e) {
      await this.remove(c.id);
      throw e;
    }
    return c.id;
  }

  private remove(id: string): Promise<void> {
    return removeContainer(this.opts.docker, id);
  }

  /**
   * Unclaimed holders nobody will use: those whose owner process is gone (a worker that crashed or
   * was killed; also a pid now reused by another process). Never a live owner's (this process's other
   * pools included, and any other worker on the engine): it may be claiming one right now, and only
   * its pause container, created after the claim, would tell. It removes its own on close(), and
   * discards stopped ones when it claims them.
   */
  private async removeOrphans(): Promise<void> {
    const holders = await this.opts.docker.listContainers({
      all: true,
      filters: { label: [`${Labels.managed}=true`, `${Labels.role}=${NETNS_ROLE}`] },
    });
    const abandoned = holders.filter((h) => ownerGone(h.Labels[POOL_OWNER_LABEL]));
    if (abandoned.length === 0) return;
    // Listed after the holders: a dead owner's claims were all made before it died, so every one shows here.
    const pauses = await this.opts.docker.listContainers({
      all: true,
      filters: { label: [`${Labels.managed}=true`, NETNS_HOLDER_LABEL] },
    });
    const claimed = new Set(pauses.map((p) => p.Labels[NETNS_HOLDER_LABEL]));
    await Promise.all(abandoned.filter((h) => !claimed.has(h.Id)).map((h) => this.remove(h.Id)));
  }
}
