import type Docker from 'dockerode';
import { silentLog, type Log } from '@sidecar/core';
import { POD_NETWORK } from './container-options.js';
import { startContainer } from './engine-connection.js';
import { statusOf } from './pod-sandbox.js';

/**
 * Sandbox addresses handed out in turn around the pod network's range, as Kubernetes' host-local IPAM
 * does, instead of Docker's lowest-free-first, which gives a removed pod's address to the very next
 * sandbox (measured: four containers in a row all got 172.18.0.2). The router reaches pods at their
 * IPs, so an address taken again at once would send a stale route's requests — an app's — to another
 * app's pod until the route is gone; in turn, an address comes back only after the whole range (65,534
 * on a /16) has been handed out. A restarted sandbox keeps its address (it is in its configuration).
 *
 * Each process starts at a random place in the range, so two workers on one engine seldom ask for the
 * same address; when they do, or when a sandbox restarted after an engine restart finds its address
 * taken, the engine refuses the start ("Address already in use") and the sandbox gets the next one.
 * Docker takes chosen addresses only on a network created with a subnet of its own, so the pod network is
 * created with the subnet the engine would have chosen (pod-sandbox.ts). On a pod network made without one
 * (by an older version of the platform) the engine refuses them, at creation or at start: sandboxes then
 * get none, the engine's allocation (lowest free first), said once in the log as a warning.
 */
interface Range {
  /** The first host address, as a number. */
  first: number;
  size: number;
  gateway: number | undefined;
}

const ranges = new Map<string, Promise<Range | undefined>>();
const cursors = new Map<string, number>();
/** Networks whose engine refused a chosen address: their sandboxes take the engine's. */
const refused = new Set<string>();

const toNumber = (ip: string): number => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
const toIp = (n: number): string => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

/** Pure: an IPv4 subnet (`a.b.c.d/p`) and its gateway → the host addresses between them. */
export function rangeOf(subnet: string, gateway?: string): Range | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(subnet);
  if (!m || Number(m[2]) > 30) return undefined;
  const total = 2 ** (32 - Number(m[2]));
  const base = toNumber(m[1]!) - (toNumber(m[1]!) % total);
  return { first: base + 1, size: total - 2, gateway: gateway ? toNumber(gateway) : undefined };
}

/** Pure: the address after `cursor` in the range, skipping the gateway; and the new cursor. */
export function nextIn(range: Range, cursor: number): { address: string; cursor: number } {
  let next = (cursor + 1) % range.size;
  if (range.first + next === range.gateway) next = (next + 1) % range.size;
  return { address: toIp(range.first + next), cursor: next };
}

/** A network's inspect, as far as its addresses go. */
export interface NetworkAddressing {
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] };
}

/** Pure: a network's IPv4 subnet and gateway, from its inspect (undefined when it has none). */
export function ipv4SubnetOf(n: NetworkAddressing): { Subnet: string; Gateway?: string } | undefined {
  const v4 = (n.IPAM?.Config ?? []).find((c) => c.Subnet && !c.Subnet.includes(':'));
  return v4?.Subnet ? { Subnet: v4.Subnet, ...(v4.Gateway ? { Gateway: v4.Gateway } : {}) } : undefined;
}

function rangeFor(docker: Docker, network: string): Promise<Range | undefined> {
  let range = ranges.get(network);
  if (!range) {
    range = docker
      .getNetwork(network)
      .inspect()
      .then((n: NetworkAddressing) => {
        const v4 = ipv4SubnetOf(n);
        return v4 ? rangeOf(v4.Subnet, v4.Gateway) : undefined;
      });
    range.catch(() => ranges.delete(network));
    ranges.set(network, range);
  }
  return range;
}

/**
 * The next address for a sandbox on `network` (an id), past any in `inUse`; undefined: let the engine
 * choose (it refuses chosen addresses, the range is unknown, or every address is in use).
 */
export async function nextPodAddress(
  docker: Docker,
  network: string,
  inUse: ReadonlySet<string> = new Set(),
): Promise<string | undefined> {
  if (refused.has(network)) return undefined;
  const range = await rangeFor(docker, network);
  if (!range) return undefined;
  let cursor = cursors.get(network) ?? Math.floor(Math.random() * range.size);
  for (let tried = 0; tried < range.size; tried++) {
    const next = nextIn(range, cursor);
    cursor = next.cursor;
    if (inUse.has(next.address)) continue;
    cursors.set(network, cursor);
    return next.address;
  }
  return undefined;
}

/** Docker's refusal of a chosen address on a network created without a subnet. */
const isAddressRefused = (e: unknown) => statusOf(e) === 400 && /user specified IP address/i.test(String(e));

/**
 * Creates a sandbox container on `network` with the next address (`options(address)`); where the engine
 * refuses chosen addresses, with its own, from then on.
 */
export async function createOnPodNetwork(
  docker: Docker,
  network: string,
  options: (address: string | undefined) => Docker.ContainerCreateOptions,
  log: Log = silentLog,
): Promise<Docker.Container> {
  const address = await nextPodAddress(docker, network);
  try {
    return await docker.createContainer(options(address));
  } catch (e) {
    if (address === undefined || !isAddressRefused(e)) throw e;
    markRefused(network, e, log);
    return docker.createContainer(options(undefined));
  }
}

function markRefused(network: string, e: unknown, log: Log): void {
  if (!refused.has(network))
    log.warn(
      { network: POD_NETWORK, err: e },
      "the engine refuses chosen addresses on the pod network: sandboxes take the engine's (lowest free first), so a pod's address may be given to the next pod at once",
    );
  refused.add(network);
}

/** A clash after the in-use addresses were skipped is another process's creation in between: rare. */
const ADDRESS_ATTEMPTS = 5;
const isAddressInUse = (e: unknown) => statusOf(e) === 403 && /address already in use/i.test(String(e));

/**
 * Starts a sandbox container (a pause container owning its namespace, or a network holder); if the
 * engine says its address is in use, moves it to the next address and starts it again. An engine that
 * accepted the chosen address at creation may still refuse it here (Docker 20.10 checks when it connects
 * the container): the sandbox then takes the engine's address, and so do all after it.
 */
export async function startOnPodNetwork(docker: Docker, id: string, log: Log = silentLog): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    let error: unknown;
    try {
      await startContainer(docker, id);
      return;
    } catch (e) {
      if (!(isAddressInUse(e) || isAddressRefused(e)) || attempt >= ADDRESS_ATTEMPTS) throw e;
      error = e;
    }
    const info = await docker.getContainer(id).inspect();
    // A sandbox never started has no network id yet; its network mode names the network (by id).
    const network = info.NetworkSettings.Networks[POD_NETWORK]?.NetworkID || info.HostConfig.NetworkMode;
    if (!network) throw error;
    if (isAddressRefused(error)) markRefused(network, error, log);
    await moveToNextAddress(docker, id, network);
  }
}

/** Reconnects the sandbox to the network at the next free address (or, failing that, at the engine's choice). */
async function moveToNextAddress(docker: Docker, id: string, network: string): Promise<void> {
  const net = docker.getNetwork(network);
  const { Containers } = (await net.inspect()) as { Containers?: Record<string, { IPv4Address?: string }> };
  const inUse = new Set(Object.values(Containers ?? {}).map((c) => (c.IPv4Address ?? '').split('/')[0]!));
  const address = await nextPodAddress(docker, network, inUse);
  await net.disconnect({ Container: id, Force: true });
  try {
    await net.connect({
      Container: id,
      ...(address !== undefined ? { EndpointConfig: { IPAMConfig: { IPv4Address: address } } } : {}),
    });
  } catch (e) {
    // Never leave a sandbox off the pod network (it would start with loopback only): the engine's address then.
    if (address === undefined) throw e;
    await net.connect({ Container: id });
  }
}
