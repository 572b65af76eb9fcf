import { LABEL_PREFIX, Labels, parseCpu, parseMemory, type Container, type Pod, type Volume } from '@sidecar/core';
import type Docker from 'dockerode';

/**
 * Pure translations of a Pod into Docker create options (fixture-tested in
 * container-options.test.ts). Nothing here talks to Docker.
 */

/** The user-defined bridge every pause container joins; the host reaches its IPs directly (probes use them). */
export const POD_NETWORK = 'sidecar-pods';
/** Label on the pause container holding the pod spec, env values redacted, so a restarted worker can adopt the pod. */
export const POD_SPEC_LABEL = `${LABEL_PREFIX}/pod-spec`;
/** Which platform instance owns a pod, when several share one Docker engine (copied from the pod's labels). */
export const PLATFORM_LABEL = `${LABEL_PREFIX}/platform`;
/** On a pause container that joined a warm network holder (netns-pool.ts): the holder's id, removed with the pod. */
export const NETNS_HOLDER_LABEL = `${LABEL_PREFIX}/netns-holder`;
/** On a network holder: the worker process and pool it waits in until claimed (`<hostname>:<pid>:<start>:<pool>`, pool-owner.ts). */
export const POOL_OWNER_LABEL = `${LABEL_PREFIX}/pool-owner`;
/** The role label of network holders. */
export const NETNS_ROLE = 'netns';
/** The tmpfs given to containers with a read-only root filesystem, so apps can still write temp files. */
export const TMP_TMPFS = { '/tmp': 'rw,nosuid,nodev,size=64m' } as const;
/** Default per-container process limit (the kubelet's podPidsLimit is a node setting too). */
export const DEFAULT_PIDS_LIMIT = 1024;

export const ContainerRole = { pause: 'pause', init: 'init', sidecar: 'sidecar', main: 'main' } as const;
export type ContainerRole = (typeof ContainerRole)[keyof typeof ContainerRole];

/** `<pod>-<container>`; Kubernetes names never contain `_`, so the pause name cannot clash with a container's. */
export const containerName = (pod: string, container: string): string => `${pod}-${container}`;
export const pauseName = (pod: string): string => `${pod}_pause`;
export const volumeName = (pod: string, volume: string): string => `${pod}_${volume}`;

export function podName(pod: Pod): string {
  const name = pod.metadata.name;
  if (!name) throw new Error('pod has no metadata.name');
  return name;
}

export const isSidecar = (c: Container): boolean => c.restartPolicy === 'Always';

/** Ownership labels shared by every Docker object of the pod. */
export function podLabels(pod: Pod): Record<string, string> {
  const meta = pod.metadata.labels ?? {};
  const labels: Record<string, string> = { [Labels.managed]: 'true', [Labels.pod]: podName(pod) };
  const app = meta[Labels.app];
  const release = meta[Labels.release];
  const platform = meta[PLATFORM_LABEL];
  const kind = meta[Labels.kind];
  if (app !== undefined) labels[Labels.app] = app;
  if (kind !== undefined) labels[Labels.kind] = kind;
  if (release !== undefined) labels[Labels.release] = release;
  if (platform !== undefined) labels[PLATFORM_LABEL] = platform;
  return labels;
}

/** The pod as stored in a label: env values removed (secrets never go into labels). */
export function redactPod(pod: Pod): Pod {
  const redact = (c: Container): Container => (c.env ? { ...c, env: c.env.map(({ name }) => ({ name })) } : c);
  return {
    ...pod,
    spec: {
      ...pod.spec,
      ...(pod.spec.initContainers ? { initContainers: pod.spec.initContainers.map(redact) } : {}),
      containers: pod.spec.containers.map(redact),
    },
  };
}

/** Every container port the pod declares, once each (Kubernetes pods share one port space). */
export function declaredPorts(pod: Pod): number[] {
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  return [...new Set(all.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort)))].sort((a, b) => a - b);
}

/** Bridge option that stops containers on the network from reaching each other (the host still reaches them). */
export const ISOLATE_PODS = { 'com.docker.network.bridge.enable_icc': 'false' } as const;

/**
 * The pod network. Pods of different apps must not talk to each other directly (tenants are
 * isolated; traffic goes through the router), so inter-container traffic is off. Containers of
 * one pod share the pause container's namespace and talk over 127.0.0.1, which this does not touch.
 */
export function networkCreateOptions(): Docker.NetworkCreateOptions {
  return {
    Name: POD_NETWORK,
    Driver: 'bridge',
    CheckDuplicate: true,
    Options: { ...ISOLATE_PODS },
    Labels: { [Labels.managed]: 'true', [Labels.role]: 'pod-network' },
  };
}

/**
 * One named volume per pod volume. An emptyDir with `medium: Memory` or a `sizeLimit` is a tmpfs (of
 * that size): Docker's local driver cannot bound a volume on disk, and a tmpfs refuses writes past its
 * size (ENOSPC) where Kubernetes evicts the pod. Its pages are charged to the memory limit of the
 * container that writes them, as for a memory emptyDir on Kubernetes. A secret volume is a plain
 * volume its files are written into (secret-volumes.ts).
 */
export function volumeCreateOptions(pod: Pod, volume: Volume): Docker.VolumeCreateOptions {
  const opts: Docker.VolumeCreateOptions = {
    Name: volumeName(podName(pod), volume.name),
    Driver: 'local',
    Labels: { ...podLabels(pod), [Labels.role]: 'volume' },
  };
  const e = volume.emptyDir;
  if (e && (e.medium === 'Memory' || e.sizeLimit !== undefined)) {
    const size = e.sizeLimit ? `,size=${parseMemory(e.sizeLimit)}` : '';
    opts.DriverOpts = { type: 'tmpfs', device: 'tmpfs', o: `mode=1777${size}` };
  }
  return opts;
}

/**
 * The network holder (`network`: the pod network's name or, to avoid ambiguity, its id). It owns the pod's network namespace (and IPC, and PID when
 * shareProcessNamespace), sits on POD_NETWORK, and exposes every declared container port (the
 * router reaches them at the pod's IP; nothing is published on the host, see `exposing`).
 */
export function pauseCreateOptions(
  pod: Pod,
  image: string,
  network: string = POD_NETWORK,
  holderId?: string,
  address?: string,
): Docker.ContainerCreateOptions {
  const labels = {
    ...podLabels(pod),
    [Labels.role]: ContainerRole.pause,
    [POD_SPEC_LABEL]: JSON.stringify(redactPod(pod)),
  };
  if (holderId !== undefined) {
    // The holder owns the pod's namespaces (network, IPC, PID) and the other containers join it;
    // this pause container is the pod's record (labels, stored spec), created in the holder's
    // namespaces but never started (pod-runner.ts).
    const joined = {
      NetworkMode: `container:${holderId}`,
      IpcMode: `container:${holderId}`,
      PidMode: `container:${holderId}`,
    };
    return {
      name: pauseName(podName(pod)),
      Image: image,
      Labels: { ...labels, [NETNS_HOLDER_LABEL]: holderId },
      HostConfig: { ...PAUSE_HOST_CONFIG, ...joined },
    };
  }
  return {
    name: pauseName(podName(pod)),
    Image: image,
    Labels: labels,
    ExposedPorts: exposing(declaredPorts(pod)),
    HostConfig: { ...PAUSE_HOST_CONFIG, NetworkMode: network },
    ...addressOn(network, address),
  };
}

/** A sandbox's chosen address on the pod network (pod-addresses.ts); none: the engine chooses. */
function addressOn(
  network: string,
  address: string | undefined,
): Pick<Docker.ContainerCreateOptions, 'NetworkingConfig'> {
  return address === undefined
    ? {}
    : { NetworkingConfig: { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: address } } } } };
}

/** What pause containers and network holders run with: the pause process needs nothing. */
const PAUSE_HOST_CONFIG = {
  IpcMode: 'shareable',
  ReadonlyRootfs: true,
  CapDrop: ['ALL'],
  SecurityOpt: ['no-new-privileges'],
  Memory: 16 * 1024 ** 2,
  MemorySwap: 16 * 1024 ** 2,
  PidsLimit: 16,
  RestartPolicy: { Name: 'no' },
} as const satisfies Docker.HostConfig;

/**
 * The declared ports, exposed (recorded on the container) but not published: the router connects to
 * the pod's IP. A port published on the host is served by Docker's userland proxy, a process per port
 * per pod that copies every byte once more (half the requests/s, docs/benchmarks.md), stops with the
 * engine (live-restore or not), and costs each sandbox's start an extra process.
 */
function exposing(ports: readonly number[]): Record<string, object> {
  return Object.fromEntries(ports.map((p) => [`${p}/tcp`, {}]));
}

/**
 * A warm network holder (netns-pool.ts): a pause-image container on the pod network exposing
 * `ports`, started before any pod needs it. Not a pod's until a pause container joins it.
 */
export function netnsHolderCreateOptions(o: {
  /** `sidecar-holder-<id>`: what `docker ps` shows for it. */
  name: string;
  image: string;
  network: string;
  ports: readonly number[];
  owner: string;
  platformId?: string;
  /** Its address on the pod network (pod-addresses.ts); none: the engine chooses. */
  address?: string;
}): Docker.ContainerCreateOptions {
  return {
    name: o.name,
    Image: o.image,
    Labels: {
      [Labels.managed]: 'true',
      [Labels.role]: NETNS_ROLE,
      [POOL_OWNER_LABEL]: o.owner,
      ...(o.platformId !== undefined ? { [PLATFORM_LABEL]: o.platformId } : {}),
    },
    ExposedPorts: exposing(o.ports),
    HostConfig: { ...PAUSE_HOST_CONFIG, NetworkMode: o.network },
    ...addressOn(o.network, o.address),
  };
}

export interface ContainerOptionsInput {
  pod: Pod;
  container: Container;
  role: Exclude<ContainerRole, 'pause'>;
  /** The container owning the pod's namespaces: its pause container, or the warm network holder that pause joined. */
  sandboxId: string;
  /** The sandbox is this warm network holder: the container names it, so the pod's removal finds it without the pod's record. */
  holderId?: string;
  pidsLimit?: number;
  /** The CPU limit while the pod starts (startup-cpu-boost.ts), in nano-CPUs; absent: the container's own. */
  startupNanoCpus?: number;
}

/** An app container that joins the sandbox's namespaces. Restarts are the runner's, never Docker's. */
export function containerCreateOptions(input: ContainerOptionsInput): Docker.ContainerCreateOptions {
  const { pod, container: c, role, sandboxId } = input;
  const pname = podName(pod);
  const sc = c.securityContext ?? {};
  const limits = c.resources?.limits ?? {};
  const mounts: Docker.MountSettings[] = (c.volumeMounts ?? []).map((m) => ({
    Type: 'volume',
    Source: volumeName(pname, m.name),
    Target: m.mountPath,
    ReadOnly: m.readOnly === true,
  }));
  const memory = limits.memory ? parseMemory(limits.memory) : undefined;
  const hostConfig: Docker.HostConfig = {
    NetworkMode: `container:${sandboxId}`,
    IpcMode: `container:${sandboxId}`,
    Mounts: mounts,
    PidsLimit: input.pidsLimit ?? DEFAULT_PIDS_LIMIT,
    RestartPolicy: { Name: 'no' },
    LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
  };
  if (pod.spec.shareProcessNamespace) hostConfig.PidMode = `container:${sandboxId}`;
  // Like the kubelet: a memory limit without swap on top of it.
  if (memory !== undefined) Object.assign(hostConfig, { Memory: memory, MemorySwap: memory });
  if (limits.cpu) hostConfig.NanoCpus = input.startupNanoCpus ?? parseCpu(limits.cpu);
  if (sc.readOnlyRootFilesystem) Object.assign(hostConfig, { ReadonlyRootfs: true, Tmpfs: { ...TMP_TMPFS } });
  if (sc.capabilities?.drop?.length) hostConfig.CapDrop = [...sc.capabilities.drop];
  if (sc.allowPrivilegeEscalation === false) hostConfig.SecurityOpt = ['no-new-privileges'];

  const opts: Docker.ContainerCreateOptions = {
    name: containerName(pname, c.name),
    Image: c.image,
    Env: (c.env ?? []).map((e) => `${e.name}=${e.value ?? ''}`),
    Labels: {
      ...podLabels(pod),
      [Labels.container]: c.name,
      [Labels.role]: role,
      ...(input.holderId !== undefined ? { [NETNS_HOLDER_LABEL]: input.holderId } : {}),
    },
    HostConfig: hostConfig,
  };
  // Kubernetes `command` replaces the image ENTRYPOINT (and drops its CMD); `args` replace CMD.
  if (c.command) opts.Entrypoint = [...c.command];
  if (c.args) opts.Cmd = [...c.args];
  if (c.workingDir) opts.WorkingDir = c.workingDir;
  if (sc.runAsUser !== undefined)
    opts.User = sc.runAsGroup !== undefined ? `${sc.runAsUser}:${sc.runAsGroup}` : String(sc.runAsUser);
  return opts;
}
