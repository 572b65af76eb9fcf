import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Labels } from '@sidecar/core';
import type Docker from 'dockerode';
import {
  NETNS_HOLDER_LABEL,
  NETNS_ROLE,
  PLATFORM_LABEL,
  POOL_OWNER_LABEL,
  netnsHolderCreateOptions,
} from './container-options.js';
import { ensurePodNetwork, forgetPodNetwork, isNotFound, removeContainer } from './pod-sandbox.js';

/**
 * Warm network namespaces for new pods.
 *
 * Starting a container that gets a network namespace of its own (a pod's pause container) costs
 * ~350–450 ms on Docker 20.10: veth pair, bridge port, IP allocation, port publishing. A container
 * that joins an existing namespace (`NetworkMode: container:<id>`) starts in ~150 ms. So the pool
 * keeps a few *network holders* started ahead of time — pause-image containers on the pod network
 * publishing a given set of ports — and a new pod's pause container joins one instead of creating
 * its own namespace. The pause container stays the pod's identity (its labels, the stored spec);
 * it records its holder in a label, and the holder is removed with the pod.
 *
 * Pools are keyed by the set of published ports (8080 for most apps, 8080+8443 with TLS). A
 * port set is warmed once a pod has asked for it, up to `maxPortSets` sets; a miss takes the
 * ordinary path (the pause container creates its own namespace). Refills wait `refillDelayMs`
 * after the last claim so they do not compete with the rollout that just claimed.
 *
 * Ownership: holders carry the owning process and pool (`<hostname>:<pid>:<pool>`). On start, a pool removes
 * the unclaimed holders nobody will use (see removeOrphans); claimed holders are referenced by a pause
 * container and belong to that pod, which removes them.
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
  maxPortSets?: number;
  /** A port set not asked for in this long stops being warmed (default 1 h); configured sets always stay. */
  staleMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

const DEFAULT_SIZE = 2;
const DEFAULT_REFILL_DELAY_MS = 1500;
const DEFAULT_MAX_PORT_SETS = 4;
const STALE_PORT_SET_MS = 60 * 60_000;

const keyOf = (ports: readonly number[]): string => [...new Set(ports)].sort((a, b) => a - b).join(',');
const portsOf = (key: string): number[] => (key === '' ? [] : key.split(',').map(Number));

export class NetnsPool {
  /** `<hostname>:<pid>:<pool>`: which process (and which of its pools) a waiting holder belongs to. */
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
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
   * A started holder publishing exactly `ports`, now the caller's (it must remove it when
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

  /** How many started holders wait per port set (for tests and metrics). */
  available(ports: readonly number[]): number {
    return this.ready.get(keyOf(ports))?.length ?? 0;
  }

  /** Stops refilling and removes every unclaimed holder. Safe twice. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refillTimer);
    await this.started?.catch(() => undefined);
    await this.filled.catch(() => undefined);
    const holders = [...this.ready.values()].flat();
    this.ready.clear();
    await Promise.all(holders.map((id) => this.remove(id)));
  }

  private scheduleRefill(): void {
    clearTimeout(this.refillTimer);
    this.refillTimer = setTimeout(
      () => void this.refill().catch((e: unknown) => console.error(`netns pool: refill failed: ${String(e)}`)),
      this.refillDelayMs,
    );
    this.refillTimer.unref();
  }

  /** One fill at a time, after the one in progress. */
  private refill(): Promise<void> {
    this.filled = this.filled.catch(() => undefined).then(() => this.fill());
    return this.filled;
  }

  /**
   * Tops every warmed port set up to `size`, one holder at a time (a pool never competes with itself),
   * after dropping the sets nobody asked for lately (the configured ones stay).
   */
  private async fill(): Promise<void> {
    const configured = new Set((this.opts.warm ?? []).map(keyOf));
    for (const [key, holders] of this.ready) {
      if (configured.has(key) || this.now() - (this.asked.get(key) ?? 0) < (this.opts.staleMs ?? STALE_PORT_SET_MS))
        continue;
      this.ready.delete(key);
      await Promise.all(holders.map((id) => this.remove(id)));
    }
    for (const [key, holders] of this.ready) {
      while (!this.closed && holders.length < this.size) {
        const id = await this.createHolder(portsOf(key));
        if (this.closed) await this.remove(id);
        else holders.push(id);
      }
    }
  }

  private async createHolder(ports: number[]): Promise<string> {
    const network = await ensurePodNetwork(this.opts.docker);
    const opts = netnsHolderCreateOptions({
      image: this.opts.pauseImage,
      network,
      ports,
      owner: this.owner,
      ...(this.opts.platformId !== undefined ? { platformId: this.opts.platformId } : {}),
    });
    const c = await this.opts.docker.createContainer(opts).catch((e: unknown) => {
      if (isNotFound(e)) forgetPodNetwork(this.opts.docker); // the pod network was removed: look it up afresh next time
      throw e;
    });
    try {
      await c.start();
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
   * Unclaimed holders nobody will use: any that is not running (an engine restart stopped it; a claim
   * would discard it anyway); any other of this platform (one worker per platform and engine: they
   * were a previous worker's, whatever process id it had; another live worker of the platform would
   * only lose their warmth, never a pod); and those of other platforms whose owner process on this
   * host has exited.
   */
  private async removeOrphans(): Promise<void> {
    const holders = await this.opts.docker.listContainers({
      all: true,
      filters: { label: [`${Labels.managed}=true`, `${Labels.role}=${NETNS_ROLE}`] },
    });
    if (holders.length === 0) return;
    const pauses = await this.opts.docker.listContainers({
      all: true,
      filters: { label: [`${Labels.managed}=true`, NETNS_HOLDER_LABEL] },
    });
    const claimed = new Set(pauses.map((p) => p.Labels[NETNS_HOLDER_LABEL]));
    const ours = (h: Docker.ContainerInfo) => h.Labels[PLATFORM_LABEL] === this.opts.platformId;
    const orphans = holders.filter(
      (h) =>
        !claimed.has(h.Id) &&
        h.Labels[POOL_OWNER_LABEL] !== this.owner &&
        (stopped(h) || ours(h) || ownerGone(h.Labels[POOL_OWNER_LABEL])),
    );
    await Promise.all(orphans.map((h) => this.remove(h.Id)));
  }
}

/**
 * Stopped for good: exited, or created and never started for minutes. (A holder another pool
 * has just created is `created` for the moment until its start: not ours to remove.)
 */
function stopped(h: Docker.ContainerInfo): boolean {
  return h.State === 'exited' || h.State === 'dead' || (h.State === 'created' && Date.now() / 1000 - h.Created > 300);
}

/** True when `owner` (`<hostname>:<pid>:<pool>`) names a process on this host that no longer runs. */
function ownerGone(owner: string | undefined): boolean {
  const m = owner === undefined ? null : /^(.*):(\d+):[0-9a-f]+$/.exec(owner);
  if (!m) return true;
  const [host, pid] = [m[1], Number(m[2])];
  if (host !== hostname()) return false; // another host's worker: not ours to judge
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
