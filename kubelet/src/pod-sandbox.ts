import { randomBytes } from 'node:crypto';
import { errorText, Labels, silentLog, type Log, type Pod } from '@sidecar/core';
import type Docker from 'dockerode';
import { createOnPodNetwork, ipv4SubnetOf, type NetworkAddressing, startOnPodNetwork } from './pod-addresses.js';
import type { NetnsPool } from './netns-pool.js';
import {
  ContainerRole,
  NETNS_HOLDER_LABEL,
  POD_NETWORK,
  declaredPorts,
  networkCreateOptions,
  pauseCreateOptions,
  podName,
  volumeCreateOptions,
} from './container-options.js';

/**
 * The Docker side of a pod's sandbox: the pod network, the pause container and
 * the emptyDir volumes, and removing everything a pod owns (by label only).
 */
export interface Sandbox {
  pauseId: string;
  /** The container whose namespaces the pod's containers join: its warm network holder, or else the pause container. */
  sandboxId: string;
  /** The pod's IP on POD_NETWORK (probes and hooks use it). */
  ip: string;
  /** The container ports the pod declares (exposed on its sandbox; reached at `ip`). */
  ports: ReadonlySet<number>;
}

/** The HTTP status of a Docker error; undefined when the engine did not answer (unreachable, connection lost). */
export const statusOf = (e: unknown): number | undefined =>
  typeof e === 'object' && e !== null && 'statusCode' in e && typeof e.statusCode === 'number'
    ? e.statusCode
    : undefined;

/** True for Docker's "no such object" answers; every other error propagates. */
export const isNotFound = (e: unknown): boolean => statusOf(e) === 404;
export const isConflict = (e: unknown): boolean => statusOf(e) === 409;
/** 304: already started / already stopped. */
export const isNotModified = (e: unknown): boolean => statusOf(e) === 304;

/** One creation at a time per Docker client; other processes are handled by `settleNetwork`. */
const creating = new WeakMap<Docker, Promise<string>>();
/** The settled network id per Docker client: looked up once, not on every pod start (a deploy's hot path). */
const known = new WeakMap<Docker, string>();

/** Forgets the cached network id (it was removed under us); the next pod start looks it up again. */
export function forgetPodNetwork(docker: Docker): void {
  known.delete(docker);
}

/**
 * The id of the pod network, created (labelled) if missing. Docker 20.10 does not
 * enforce unique network names under concurrent creates, so duplicates created by
 * racing processes are settled: everyone uses the oldest, and unused labelled
 * duplicates are removed. Callers refer to the network by id, never by the name.
 */
export function ensurePodNetwork(docker: Docker, log: Log = silentLog): Promise<string> {
  const id = known.get(docker);
  if (id) return Promise.resolve(id);
  let pending = creating.get(docker);
  if (!pending) {
    pending = findOrCreateNetwork(docker, log)
      .then((found) => {
        known.set(docker, found);
        return found;
      })
      .finally(() => creating.delete(docker));
    creating.set(docker, pending);
  }
  return pending;
}

async function findOrCreateNetwork(docker: Docker, log: Log): Promise<string> {
  await replaceUnisolatedNetwork(docker, log);
  const existing = await podNetworks(docker);
  if (existing.length === 0) {
    const create = (extra: Pick<Docker.NetworkCreateOptions, 'IPAM'>) =>
      docker.createNetwork({ ...networkCreateOptions(), ...extra }).then(
        () => undefined,
        (e: unknown) => {
          if (!isConflict(e)) throw e; // another process created it between our list and create
        },
      );
    await removeStaleProbes(docker);
    // The subnet may have been taken meanwhile (another network): then as the engine chooses.
    await create(await subnetChosenByEngine(docker)).catch(() => create({}));
  }
  return settleNetwork(docker);
}

const PROBE_ROLE = 'pod-network-probe';
/** A probe network older than this was left by a process stopped between its creation and its removal. */
const STALE_PROBE_MS = 60_000;

/** Throwaway networks of subnetChosenByEngine that their process never removed (it was killed meanwhile). */
export async function removeStaleProbes(
  docker: Docker,
  opts: { olderThanMs?: number; named?: (name: string) => boolean } = {},
): Promise<void> {
  const { olderThanMs = STALE_PROBE_MS, named = () => true } = opts;
  const probes = await docker
    .listNetworks({ filters: { label: [`${Labels.managed}=true`, `${Labels.role}=${PROBE_ROLE}`] } })
    .catch(() => []);
  // Another process's probe in use right now is younger: left alone.
  const stale = probes.filter((n) => named(n.Name) && Date.now() - Date.parse(n.Created ?? '') >= olderThanMs);
  await Promise.all(
    stale.map((n) =>
      docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => undefined),
    ),
  );
}

/**
 * A free subnet, as the engine would choose it, to create the pod network with: Docker takes chosen
 * sandbox addresses (pod-addresses.ts) only on a network created with a subnet of its own. Found by
 * creating a throwaway network and reading its subnet; none (the network then gets the engine's, and
 * sandboxes the engine's addresses) if that fails.
 */
async function subnetChosenByEngine(docker: Docker): Promise<Pick<Docker.NetworkCreateOptions, 'IPAM'>> {
  try {
    const probe = await docker.createNetwork({
      Name: `${POD_NETWORK}-probe-${randomBytes(4).toString('hex')}`,
      Driver: 'bridge',
      Labels: { [Labels.managed]: 'true', [Labels.role]: PROBE_ROLE },
    });
    try {
      const v4 = ipv4SubnetOf((await probe.inspect()) as NetworkAddressing);
      return v4 ? { IPAM: { Driver: 'default', Config: [v4] } } : {};
    } finally {
      await probe.remove().catch(() => undefined);
    }
  } catch {
    return {};
  }
}

/**
 * A pod network made before pods were isolated from each other lets them talk: replace it
 * when nothing uses it; otherwise keep it (running pods stay reachable) and say so.
 */
async function replaceUnisolatedNetwork(docker: Docker, log: Log): Promise<void> {
  for (const n of await podNetworks(docker)) {
    if (n.Labels?.[Labels.managed] !== 'true' || n.Options?.['com.docker.network.bridge.enable_icc'] === 'false')
      continue;
    const info = await docker.getNetwork(n.Id).inspect();
    if (Object.keys(info.Containers ?? {}).length > 0) {
      log.warn(
        { network: POD_NETWORK },
        'the pod network lets pods reach each other; it is replaced once no pod uses it',
      );
      continue;
    }
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch((e: unknown) => {
        if (!isNotFound(e) && !isConflict(e)) throw e;
      });
  }
}

async function podNetworks(docker: Docker): Promise<Docker.NetworkInspectInfo[]> {
  const found = await docker.listNetworks({ filters: { name: [POD_NETWORK] } });
  return found
    .filter((n) => n.Name === POD_NETWORK)
    .sort((a, b) => a.Created.localeCompare(b.Created) || a.Id.localeCompare(b.Id));
}

async function settleNetwork(docker: Docker): Promise<string> {
  const [oldest, ...duplicates] = await podNetworks(docker);
  if (!oldest) throw new Error(`network ${POD_NETWORK} vanished while being created`);
  for (const dup of duplicates) {
    if (dup.Labels?.[Labels.managed] !== 'true') continue;
    try {
      await docker.getNetwork(dup.Id).remove();
    } catch (e) {
      // Gone already (another process settled it) or in use (then it is not ours to remove now).
      if (!isNotFound(e) && !isConflict(e) && statusOf(e) !== 403) throw e;
    }
  }
  return oldest.Id;
}

/**
 * A pod's pause container being created (never started when it joined a warm network holder), with
 * the running holder it joined, if any.
 */
export interface CreatedPause {
  /**
   * Settles when the pause container exists. With a holder it may still be in flight when createPause
   * returns: it is only the pod's record then, made while the pod's containers are (a worker that dies
   * before it exists leaves containers PodRunner.removeIncomplete finds).
   */
  pauseId: Promise<string>;
  holder?: { id: string; network: SandboxNetwork };
}

/** Where a pod is reached: its address on POD_NETWORK and the ports it declares. */
export type SandboxNetwork = Omit<Sandbox, 'pauseId' | 'sandboxId'>;

/**
 * Creates the pod's volumes and its pause container (not started). With a pool, the pause joins a warm
 * network holder when one exposes exactly the pod's ports (netns-pool.ts): that saves the ~0.3 s of a
 * new network namespace on every pod start. The pause container is then only the pod's record, still
 * in flight when this returns (the holder is the sandbox, and it runs already); without a holder it is
 * their sandbox and exists before this returns. The
 * volumes exist before this returns either way (a container naming a missing volume would make one
 * without the pod's labels).
 */
export async function createPause(
  docker: Docker,
  pod: Pod,
  opts: { pauseImage: string; pool?: NetnsPool | undefined; log: Log },
): Promise<CreatedPause> {
  const { pauseImage, pool, log } = opts;
  // The volumes need nothing else: made while a holder is looked at (or the pod network is), not after. All of
  // them settle before a failure is reported, so none is made after the pod's cleanup listed them.
  const volumes = Promise.allSettled(
    (pod.spec.volumes ?? []).map((v) => docker.createVolume(volumeCreateOptions(pod, v))),
  ).then((results) => {
    const failure = results.find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
  });
  volumes.catch(() => undefined);
  const holder = await claimRunning(docker, pool, declaredPorts(pod));
  const failed = async (e: unknown, removeHolder = true): Promise<never> => {
    // The cached network may have been removed by hand: look it up afresh next time.
    if (isNotFound(e)) forgetPodNetwork(docker);
    if (removeHolder && holder !== undefined) await removeContainer(docker, holder.id).catch(() => undefined);
    throw e;
  };
  let networkId = POD_NETWORK;
  if (holder === undefined) {
    try {
      networkId = await ensurePodNetwork(docker, log);
    } catch (e) {
      await volumes.catch(() => undefined);
      throw e;
    }
  }
  const created =
    holder === undefined
      ? createOnPodNetwork(
          docker,
          networkId,
          (address) => pauseCreateOptions(pod, pauseImage, networkId, undefined, address),
          log,
        )
      : docker.createContainer(pauseCreateOptions(pod, pauseImage, networkId, holder.id));
  // With a holder the record fails while the pod's containers may have joined the holder already: it is
  // left to the pod's removal (removePodObjects finds it by their labels; the runner also names it).
  const pauseId = created.then(
    (c) => c.id,
    (e: unknown) => failed(e, false),
  );
  // With a holder the caller awaits it after this returns: a failure meanwhile must not reject unobserved.
  pauseId.catch(() => undefined);
  // Both settle before anything throws: a creation left in flight could escape the pod's cleanup.
  const [volumesDone, pauseDone] = await Promise.allSettled([volumes, holder === undefined ? pauseId : undefined]);
  if (volumesDone.status === 'rejected') {
    await pauseId.catch(() => undefined);
    return failed(volumesDone.reason);
  }
  if (pauseDone.status === 'rejected') throw pauseDone.reason;
  return { pauseId, ...(holder !== undefined ? { holder } : {}) };
}

/**
 * A warm holder for these ports that is running, with its network (one inspect for both). One
 * stopped under the pool (the engine restarted, someone stopped it) is removed and the pod makes
 * its own sandbox instead.
 */
async function claimRunning(
  docker: Docker,
  pool: NetnsPool | undefined,
  ports: number[],
): Promise<CreatedPause['holder']> {
  const id = await pool?.claimSoon(ports);
  if (id === undefined) return undefined;
  // Any doubt (stopped, gone, no address, the engine erring) and the holder is discarded: a pod can always make its own.
  const network = await docker
    .getContainer(id)
    .inspect()
    .then((i) => (i.State.Running ? networkIn(i) : undefined))
    .catch(() => undefined);
  if (network) return { id, network };
  await removeContainer(docker, id).catch(() => undefined);
  return undefined;
}

/** Starts a created pause container that owns its namespaces, then reads the sandbox's address and ports. */
export async function startSandbox(docker: Docker, pauseId: string): Promise<Sandbox> {
  await startOnPodNetwork(docker, pauseId);
  return { pauseId, sandboxId: pauseId, ...networkIn(await docker.getContainer(pauseId).inspect()) };
}

function networkIn(info: Docker.ContainerInspectInfo): SandboxNetwork {
  const ip = info.NetworkSettings.Networks[POD_NETWORK]?.IPAddress;
  if (!ip) throw new Error(`container ${info.Name} has no address on ${POD_NETWORK}`);
  const ports = new Set(Object.keys(info.Config.ExposedPorts ?? {}).map((key) => Number.parseInt(key, 10)));
  return { ip, ports };
}

/**
 * The sandbox of an existing pod, started again if it is down (after a host reboot or an engine
 * restart nothing of the pod runs), so that the others can join it: its network holder, or else its
 * pause container. `restarted`: it was down. Started again, it may have a new address.
 */
export async function resumeSandbox(docker: Docker, pauseId: string): Promise<Sandbox & { restarted: boolean }> {
  const pause = await docker.getContainer(pauseId).inspect();
  // With a holder, the holder is the sandbox; the pause container is only the pod's record.
  const sandboxId = pause.Config.Labels?.[NETNS_HOLDER_LABEL] ?? pauseId;
  const sandbox = docker.getContainer(sandboxId);
  let info = await sandbox.inspect();
  const restarted = !info.State.Running;
  if (restarted) {
    await startOnPodNetwork(docker, sandboxId).catch((e: unknown) => {
      if (!isNotModified(e)) throw e;
    });
    info = await sandbox.inspect();
  }
  return { pauseId, sandboxId, restarted, ...networkIn(info) };
}

/** Every Docker container of the pod (any state), found by its ownership labels. */
export function listPodContainers(docker: Docker, pod: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${Labels.managed}=true`, `${Labels.pod}=${pod}`] } });
}

/** Force-removes the pod's containers (pause, then its network holder, last: the others use their namespaces) and volumes. */
export async function removePodObjects(docker: Docker, pod: Pod | string): Promise<void> {
  const name = typeof pod === 'string' ? pod : podName(pod);
  const containers = await listPodContainers(docker, name);
  const isPause = (c: Docker.ContainerInfo) => c.Labels[Labels.role] === ContainerRole.pause;
  const pauses = containers.filter(isPause);
  await Promise.all(containers.filter((c) => !isPause(c)).map((c) => removeContainer(docker, c.Id)));
  await Promise.all(pauses.map((c) => removeContainer(docker, c.Id)));
  // The pause container names its holder, and so does every container that joined it (a pod whose record
  // was never made still has its holder removed).
  const holders = new Set(containers.map((c) => c.Labels[NETNS_HOLDER_LABEL]).filter((h) => h !== undefined));
  await Promise.all([...holders].map((id) => removeContainer(docker, id)));
  const { Volumes } = await docker.listVolumes({
    filters: { label: [`${Labels.managed}=true`, `${Labels.pod}=${name}`] },
  });
  await Promise.all(
    (Volumes ?? []).map(async (v) => {
      try {
        await docker.getVolume(v.Name).remove();
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }),
  );
}

/** Force-removes a container; gone already or being removed (409) is fine. */
export async function removeContainer(docker: Docker, id: string): Promise<void> {
  try {
    await docker.getContainer(id).remove({ force: true, v: false });
  } catch (e) {
    if (isNotFound(e)) return;
    if (!isConflict(e)) throw e;
    // Another caller (another worker's sweep of abandoned holders, say) is removing it: done once it is
    // gone, as after a removal of our own, so that a caller listing containers next does not still see it.
    if (/already in progress/i.test(errorText(e))) await untilRemoved(docker, id);
  }
}

/** How long removeContainer waits for another caller's removal of the same container. */
const REMOVAL_WAIT_MS = 10_000;

async function untilRemoved(docker: Docker, id: string): Promise<void> {
  await docker
    .getContainer(id)
    .wait({ condition: 'removed', abortSignal: AbortSignal.timeout(REMOVAL_WAIT_MS) })
    .catch(() => undefined); // gone already (404), or still there after the wait: as before, not this caller's to fix
}
