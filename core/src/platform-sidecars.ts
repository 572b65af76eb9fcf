import type { Sidecars } from './app.js';
import type { Container, SecurityContext, Volume, VolumeMount } from './k8s-types.js';

/**
 * Platform sidecars: generic images (never built per app) that the pod template
 * adds when an app's `sidecars` settings ask for them. Their order is fixed:
 * `logs` before the logic sidecar `app` (it starts before everything else and is
 * stopped after everything else, so it ships what the app writes while shutting
 * down), then `tls` and `procinfo` after it. Their interface (ports, env, paths)
 * is documented in docs/sidecars.md.
 */
export const PlatformSidecar = { logs: 'logs', tls: 'tls', procinfo: 'procinfo' } as const;
export type PlatformSidecar = (typeof PlatformSidecar)[keyof typeof PlatformSidecar];

/** The fixed start order of platform sidecars; those in PLATFORM_SIDECARS_BEFORE_LOGIC come before `app`. */
export const PLATFORM_SIDECAR_ORDER: readonly PlatformSidecar[] = [
  PlatformSidecar.logs,
  PlatformSidecar.tls,
  PlatformSidecar.procinfo,
];
export const PLATFORM_SIDECARS_BEFORE_LOGIC: readonly PlatformSidecar[] = [PlatformSidecar.logs];

/** The TLS terminator: HTTPS on TLS_PORT inside the pod, forwarded to the runtime on 127.0.0.1:8080. */
export const TLS_PORT = 8443;
export const TLS_ENV = {
  cert: 'SIDECAR_TLS_CERT',
  key: 'SIDECAR_TLS_KEY',
  listenPort: 'SIDECAR_TLS_PORT',
  upstreamPort: 'SIDECAR_TLS_UPSTREAM_PORT',
} as const;

/**
 * The log shipper: the app writes files under `mountPath` (read-write in the runtime
 * only, so `writer` is whose lines they are); the shipper reads them (read-only) and
 * prints each line as JSON on its own stdout, which the node's log agent collects.
 * It keeps its read offsets under `statePath`, a volume of its own that outlives a
 * restart of the shipper but not the pod.
 */
export const LOG_SHIPPER = {
  volume: 'app-logs',
  mountPath: '/var/log/app',
  /** The app-log volume's size unless the platform sets another (SIDECAR_APP_LOG_VOLUME_SIZE). */
  defaultVolumeSize: '32Mi',
  stateVolume: 'log-shipper-state',
  statePath: '/var/lib/log-shipper',
  writer: 'runtime',
} as const;
export const LOGS_ENV = { dir: 'SIDECAR_LOGS_DIR', stateDir: 'SIDECAR_LOGS_STATE_DIR' } as const;

/** What `procinfo` runs for one snapshot (the worker execs it; see worker/src/backends/docker/process-insight.ts). */
export const PROCINFO_SNAPSHOT_COMMAND = ['/bin/sh', '/sidecar/procinfo.sh', 'snapshot'] as const;

/** Small, fixed limits: these images do one thing each. */
export const PLATFORM_SIDECAR_LIMITS = {
  logs: { memory: '64Mi', cpu: '100m' },
  tls: { memory: '64Mi', cpu: '200m' },
  procinfo: { memory: '16Mi', cpu: '50m' },
} as const satisfies Record<PlatformSidecar, { memory: string; cpu: string }>;

export interface PlatformSidecarImages {
  logs: string;
  tls: string;
  procinfo: string;
}
export interface TlsMaterial {
  cert: string;
  key: string;
}

/** What the target supplies to render platform sidecars: their images and, for `tls`, the app's certificate. */
export interface PlatformSidecarInput {
  images: PlatformSidecarImages;
  /** Required when the app enables `tls`. */
  tls?: TlsMaterial;
}

export const isPlatformSidecar = (name: string): name is PlatformSidecar =>
  (PLATFORM_SIDECAR_ORDER as readonly string[]).includes(name);

const isEnabled = (settings: Sidecars, name: PlatformSidecar): boolean => {
  switch (name) {
    // On unless switched off: settings stored before `logs` existed lack the key.
    case PlatformSidecar.logs:
      return (settings as Partial<Sidecars>).logs !== false;
    case PlatformSidecar.tls:
      return settings.tls.enabled;
    case PlatformSidecar.procinfo:
      return settings.procinfo;
  }
};

/** The platform sidecars an app's settings enable, in the fixed order; none without settings (job pods). */
export function enabledSidecars(settings: Sidecars | undefined): PlatformSidecar[] {
  if (!settings) return [];
  return PLATFORM_SIDECAR_ORDER.filter((s) => isEnabled(settings, s));
}

/** What the enabled platform sidecars add to a pod. */
export interface PlatformSidecarParts {
  /** Native sidecars declared before the logic sidecar `app`. */
  beforeLogic: Container[];
  /** Native sidecars declared after `app`, before the runtime. */
  afterLogic: Container[];
  volumes: Volume[];
  /** Mounts the runtime gets (the log directory it writes). */
  runtimeMounts: VolumeMount[];
  /** procinfo reads the runtime's processes from /proc, so the pod shares one PID namespace. */
  shareProcessNamespace: boolean;
}

/**
 * The platform sidecar containers for an app, in the fixed order, each a native
 * sidecar with limits and the same restricted securityContext as the app's own
 * containers. The TLS key reaches the sidecar as an env value: the Docker target
 * strips env values from the pod spec it stores in labels, and the sidecar never prints it.
 */
export function renderPlatformSidecars(o: {
  settings: Sidecars | undefined;
  input: PlatformSidecarInput | undefined;
  securityContext: SecurityContext;
  probePeriodSeconds: number;
}): PlatformSidecarParts {
  const wanted = enabledSidecars(o.settings);
  const parts: PlatformSidecarParts = {
    beforeLogic: [],
    afterLogic: [],
    volumes: [],
    runtimeMounts: [],
    shareProcessNamespace: false,
  };
  if (wanted.length === 0) return parts;
  const { input, securityContext } = o;
  if (!input)
    throw new Error(`platform sidecars ${wanted.join(', ')} are enabled but the target supplies no sidecar images`);
  for (const name of wanted) {
    const base = {
      name,
      restartPolicy: 'Always',
      resources: { limits: { ...PLATFORM_SIDECAR_LIMITS[name] } },
      securityContext,
    } as const;
    const into = PLATFORM_SIDECARS_BEFORE_LOGIC.includes(name) ? parts.beforeLogic : parts.afterLogic;
    if (name === PlatformSidecar.logs) {
      into.push(logShipper(base, input.images.logs));
      parts.volumes.push({ name: LOG_SHIPPER.volume, emptyDir: {} }, { name: LOG_SHIPPER.stateVolume, emptyDir: {} });
      parts.runtimeMounts.push({ name: LOG_SHIPPER.volume, mountPath: LOG_SHIPPER.mountPath });
    } else if (name === PlatformSidecar.procinfo) {
      into.push({ ...base, image: input.images.procinfo });
      parts.shareProcessNamespace = true;
    } else {
      into.push(tlsTerminator(base, input, o.probePeriodSeconds));
    }
  }
  return parts;
}

type SidecarBase = Pick<Container, 'name' | 'restartPolicy' | 'resources' | 'securityContext'>;

/** No startup probe: running is started, so the shipper costs a rollout only its container start. */
function logShipper(base: SidecarBase, image: string): Container {
  return {
    ...base,
    image,
    env: [
      { name: LOGS_ENV.dir, value: LOG_SHIPPER.mountPath },
      { name: LOGS_ENV.stateDir, value: LOG_SHIPPER.statePath },
    ],
    volumeMounts: [
      { name: LOG_SHIPPER.volume, mountPath: LOG_SHIPPER.mountPath, readOnly: true },
      { name: LOG_SHIPPER.stateVolume, mountPath: LOG_SHIPPER.statePath },
    ],
  };
}

function tlsTerminator(base: SidecarBase, input: PlatformSidecarInput, probePeriodSeconds: number): Container {
  if (!input.tls) throw new Error('the tls sidecar is enabled but no certificate was supplied');
  return {
    ...base,
    image: input.images.tls,
    env: [
      { name: TLS_ENV.cert, value: input.tls.cert },
      { name: TLS_ENV.key, value: input.tls.key },
      { name: TLS_ENV.listenPort, value: String(TLS_PORT) },
    ],
    // Declared so the Docker target publishes it on the pause container, like 8080.
    ports: [{ containerPort: TLS_PORT, name: 'https', protocol: 'TCP' }],
    // Started = listening, so a new pod takes HTTPS traffic only once it can serve it.
    startupProbe: {
      tcpSocket: { port: TLS_PORT },
      periodSeconds: probePeriodSeconds,
      failureThreshold: 30,
      successThreshold: 1,
    },
  };
}
