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
  certFile: 'SIDECAR_TLS_CERT_FILE',
  keyFile: 'SIDECAR_TLS_KEY_FILE',
  listenPort: 'SIDECAR_TLS_PORT',
  upstreamPort: 'SIDECAR_TLS_UPSTREAM_PORT',
} as const;
/**
 * The certificate and key reach the TLS sidecar as files of a secret volume mounted in that
 * container only, never as env: an env value of any process in a pod that shares its PID namespace
 * (procinfo) is one `/proc/<pid>/environ` away. The sidecar runs as a uid of its own, so the app's
 * processes can read neither its environment nor, through `/proc/<pid>/root`, its files.
 */
export const TLS_SECRET = {
  volume: 'tls-material',
  mountPath: '/run/secrets/sidecar-tls',
  certFile: 'tls.crt',
  /** The certificate's name with `.key` for `.crt`: HAProxy finds the key beside it by that rule. */
  keyFile: 'tls.key',
  /** Root-owned files in a volume only the TLS container mounts; see docs/security.md ("intra-pod"). */
  mode: 0o444,
} as const;
/** The Secret (on Docker: the data the kubelet is handed) holding an app's TLS material. */
export const tlsSecretNameFor = (app: string) => `${app}-sidecar-tls`;

/**
 * Each platform sidecar runs as a user of its own, never the app's (APP_UID 1000): a process can
 * read another's `/proc/<pid>/environ`, memory or root only with the same uid (or CAP_SYS_PTRACE,
 * which every container drops). The log shipper stays in the app's group so it can read log files
 * the app makes group-readable only.
 */
export const PLATFORM_SIDECAR_USERS = {
  logs: { uid: 2001, gid: 1000 },
  tls: { uid: 2002, gid: 2002 },
  procinfo: { uid: 2003, gid: 2003 },
} as const satisfies Record<string, { uid: number; gid: number }>;

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

/**
 * Small, fixed limits: these images do one thing each. `logs` is a static C program of under 1 MiB
 * resident (docs/benchmarks.md, "The log shipper's memory"); 16Mi leaves room for its kernel memory
 * and for the page cache of the files it reads (charged to it, and reclaimed at the limit, not killed).
 * `tls` is HAProxy (docs/benchmarks.md, "The TLS sidecar's memory"): about 3 MiB of its own when idle
 * and at most 26 MiB with its kernel's socket buffers while its maximum of 128 clients upload at once,
 * plus 12 MiB of shared libraries that count against the limit when this container is the first on
 * the node to read them; 48Mi holds both with 10 MiB to spare (the Node program it replaced had 64Mi).
 */
export const PLATFORM_SIDECAR_LIMITS = {
  logs: { memory: '16Mi', cpu: '100m' },
  tls: { memory: '48Mi', cpu: '200m' },
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

/** The data of the Secrets a pod's secret volumes refer to, by Secret name then key. */
export type PodSecrets = Record<string, Record<string, string>>;

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
  /** The Secrets the sidecars' secret volumes refer to (the TLS material). */
  secrets: PodSecrets;
}

/**
 * The platform sidecar containers for an app, in the fixed order, each a native sidecar with
 * limits and the restricted securityContext of the app's containers, but as its own user
 * (PLATFORM_SIDECAR_USERS). The TLS material is a secret volume (TLS_SECRET), whose data comes back
 * in `secrets` for the target to supply: the Kubernetes target as a Secret, the Docker target to
 * its kubelet.
 */
export function renderPlatformSidecars(o: {
  app: string;
  settings: Sidecars | undefined;
  input: PlatformSidecarInput | undefined;
  securityContext: SecurityContext;
  probePeriodSeconds: number;
  /** The app-log volume's `emptyDir.sizeLimit` (default LOG_SHIPPER.defaultVolumeSize). */
  logVolumeSize?: string | undefined;
}): PlatformSidecarParts {
  const wanted = enabledSidecars(o.settings);
  const parts: PlatformSidecarParts = {
    beforeLogic: [],
    afterLogic: [],
    volumes: [],
    runtimeMounts: [],
    shareProcessNamespace: false,
    secrets: {},
  };
  if (wanted.length === 0) return parts;
  const { input } = o;
  if (!input)
    throw new Error(`platform sidecars ${wanted.join(', ')} are enabled but the target supplies no sidecar images`);
  for (const name of wanted) {
    const user = PLATFORM_SIDECAR_USERS[name];
    const base = {
      name,
      restartPolicy: 'Always',
      resources: { limits: { ...PLATFORM_SIDECAR_LIMITS[name] } },
      securityContext: { ...o.securityContext, runAsUser: user.uid, runAsGroup: user.gid },
    } as const;
    const into = PLATFORM_SIDECARS_BEFORE_LOGIC.includes(name) ? parts.beforeLogic : parts.afterLogic;
    if (name === PlatformSidecar.logs) {
      into.push(logShipper(base, input.images.logs));
      // Bounded: the app writes here as much as it likes (docs/sidecars.md says what each target does at the limit).
      const sizeLimit = o.logVolumeSize ?? LOG_SHIPPER.defaultVolumeSize;
      parts.volumes.push(
        { name: LOG_SHIPPER.volume, emptyDir: { sizeLimit } },
        { name: LOG_SHIPPER.stateVolume, emptyDir: {} },
      );
      parts.runtimeMounts.push({ name: LOG_SHIPPER.volume, mountPath: LOG_SHIPPER.mountPath });
    } else if (name === PlatformSidecar.procinfo) {
      into.push({ ...base, image: input.images.procinfo });
      parts.shareProcessNamespace = true;
    } else {
      if (!input.tls) throw new Error('the tls sidecar is enabled but no certificate was supplied');
      const secretName = tlsSecretNameFor(o.app);
      into.push(tlsTerminator(base, input.images.tls, o.probePeriodSeconds));
      parts.volumes.push({ name: TLS_SECRET.volume, secret: { secretName, defaultMode: TLS_SECRET.mode } });
      parts.secrets[secretName] = { [TLS_SECRET.certFile]: input.tls.cert, [TLS_SECRET.keyFile]: input.tls.key };
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

function tlsTerminator(base: SidecarBase, image: string, probePeriodSeconds: number): Container {
  return {
    ...base,
    image,
    env: [
      { name: TLS_ENV.certFile, value: `${TLS_SECRET.mountPath}/${TLS_SECRET.certFile}` },
      { name: TLS_ENV.keyFile, value: `${TLS_SECRET.mountPath}/${TLS_SECRET.keyFile}` },
      { name: TLS_ENV.listenPort, value: String(TLS_PORT) },
    ],
    volumeMounts: [{ name: TLS_SECRET.volume, mountPath: TLS_SECRET.mountPath, readOnly: true }],
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
