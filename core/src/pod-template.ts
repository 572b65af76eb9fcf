import type { App } from './app.js';
import type { Container, Pod, Probe, SecurityContext } from './k8s-types.js';
import { Labels } from './labels.js';
import { withNodeTrust } from './node-trust.js';
import { type PlatformSidecarInput, type PodSecrets, renderPlatformSidecars } from './platform-sidecars.js';
import type { Release } from './release.js';

/** Where the logic sidecar publishes the bundle and where the runtime reads it. */
export const WORKSPACE = { volume: 'workspace', mountPath: '/workspace', readyMarker: '/workspace/.ready' } as const;
export const RUNTIME_PORT = 8080;
/**
 * Where the logic sidecar's loader listens once the logic is in place: its startup probe is a TCP connect
 * (a kubelet's `tcpSocket` probe costs a connect; the marker test it replaces was a `docker exec`, ~0.1 s of
 * the engine's time on every pod's path). Taken in the pod's network namespace: not for the app's own use.
 */
export const LOADER_PORT = 8079;
export const READY_PATH = '/__sidecar/ready';
export const APP_UID = 1000;

/** Knobs of the template that are platform settings, not app settings. */
export interface TemplateSettings {
  /** Seconds between probes; 1 is the Kubernetes minimum and the default. */
  probePeriodSeconds: number;
  terminationGracePeriodSeconds: number;
  /** The app-log volume's size (SIDECAR_APP_LOG_VOLUME_SIZE); default LOG_SHIPPER.defaultVolumeSize. */
  appLogVolumeSize?: string;
}
export const DEFAULT_TEMPLATE_SETTINGS: TemplateSettings = { probePeriodSeconds: 1, terminationGracePeriodSeconds: 30 };

export interface RenderInput {
  app: Pick<App, 'name' | 'resources' | 'secrets'> & Partial<Pick<App, 'sidecars'>>;
  release: Pick<Release, 'version' | 'image' | 'runtimeImage' | 'env' | 'manifest' | 'loaderPort'>;
  podName: string;
  settings?: TemplateSettings;
  /** Images (and the TLS certificate) for the platform sidecars the app enables; required when it enables any. */
  platformSidecars?: PlatformSidecarInput;
}

/** The app's containers run as the unprivileged app user, with nothing to escalate to (platform sidecars: their own users). */
export const RESTRICTED: SecurityContext = {
  runAsUser: APP_UID,
  runAsGroup: APP_UID,
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

const sortedEnv = (vars: Record<string, string>) =>
  Object.keys(vars)
    .sort()
    .map((name) => ({ name, value: vars[name]! }));

/**
 * The one pod template: app + release → a Kubernetes Pod. The Docker target runs
 * it with its kubelet-faithful runner; the Kubernetes target wraps its spec in a
 * Deployment. Secrets reach the runtime only as environment variables.
 * Order: the enabled platform sidecars in their fixed order around the logic sidecar
 * (`logs`, `app`, `tls`, `procinfo`), then `runtime`.
 */
export function renderPod(input: RenderInput): Pod {
  const { app, release, podName } = input;
  const settings = input.settings ?? DEFAULT_TEMPLATE_SETTINGS;
  const period = settings.probePeriodSeconds;
  const identity = { SIDECAR_APP: app.name, SIDECAR_RELEASE: String(release.version) };

  const startupProbe: Probe = {
    // Logic images built from a base whose loader does not listen (releases made before it did): the marker.
    ...(release.loaderPort !== undefined
      ? { tcpSocket: { port: release.loaderPort } }
      : { exec: { command: ['test', '-f', WORKSPACE.readyMarker] } }),
    periodSeconds: period,
    failureThreshold: 60,
    successThreshold: 1,
  };
  const logic: Container = {
    name: 'app',
    image: release.image,
    restartPolicy: 'Always',
    env: sortedEnv(identity),
    volumeMounts: [{ name: WORKSPACE.volume, mountPath: WORKSPACE.mountPath }],
    startupProbe,
    // Its only work is one copy at start, on every deploy's critical path: a 100m limit
    // throttled that burst by ~0.2–0.3 s (measured); afterwards it only listens (its startup probe).
    resources: { limits: { memory: '32Mi', cpu: '500m' } },
    securityContext: RESTRICTED,
  };
  const platform = platformParts(input);
  const runtime: Container = {
    name: 'runtime',
    image: release.runtimeImage,
    // User env first, then secrets, then the platform's own: later wins on clashes.
    env: withNodeTrust(sortedEnv({ ...release.env, ...app.secrets, ...identity, PORT: String(RUNTIME_PORT) })),
    volumeMounts: [
      { name: WORKSPACE.volume, mountPath: WORKSPACE.mountPath, readOnly: true },
      ...platform.runtimeMounts,
    ],
    ports: [{ containerPort: RUNTIME_PORT, name: 'http', protocol: 'TCP' }],
    // A handler or static bundle is served by the runtime, which knows when the
    // logic has loaded; a process-mode app owns the port, so readiness is "it listens".
    readinessProbe: {
      ...(release.manifest.mode === 'process'
        ? { tcpSocket: { port: RUNTIME_PORT } }
        : { httpGet: { path: READY_PATH, port: RUNTIME_PORT } }),
      periodSeconds: period,
      failureThreshold: 3,
      successThreshold: 1,
    },
    resources: { limits: { memory: app.resources.memory, cpu: app.resources.cpu } },
    securityContext: RESTRICTED,
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName,
      labels: {
        [Labels.managed]: 'true',
        [Labels.app]: app.name,
        [Labels.release]: String(release.version),
        [Labels.pod]: podName,
      },
    },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: settings.terminationGracePeriodSeconds,
      volumes: [{ name: WORKSPACE.volume, emptyDir: {} }, ...platform.volumes],
      // The log shipper before the logic sidecar (it must outlive everything that writes),
      // the logic before the rest (the runtime needs the bundle).
      initContainers: [...platform.beforeLogic, logic, ...platform.afterLogic],
      containers: [runtime],
      ...(platform.shareProcessNamespace ? { shareProcessNamespace: true } : {}),
    },
  };
}

function platformParts(input: RenderInput) {
  const settings = input.settings ?? DEFAULT_TEMPLATE_SETTINGS;
  return renderPlatformSidecars({
    app: input.app.name,
    settings: input.app.sidecars,
    input: input.platformSidecars,
    securityContext: RESTRICTED,
    probePeriodSeconds: settings.probePeriodSeconds,
    logVolumeSize: settings.appLogVolumeSize,
  });
}

/**
 * The data of the Secrets `renderPod`'s secret volumes refer to, from the same input: the Kubernetes
 * target applies them as Secrets, the Docker target hands them to its kubelet, which writes the files.
 */
export function renderPodSecrets(input: RenderInput): PodSecrets {
  return platformParts(input).secrets;
}

/** A pod name unique per rollout: `<app>-v<release>-<suffix>`. */
export function podNameFor(app: string, version: number, suffix: string): string {
  return `${app}-v${version}-${suffix}`;
}

/** Where a job's command runs: the bundle, as the logic sidecar published it. */
export const JOB_WORKING_DIR = `${WORKSPACE.mountPath}/current`;

export interface RenderJobInput extends RenderInput {
  command: string[];
  env?: Record<string, string>;
}

/**
 * A Job pod: the same template (the logic sidecar first, then the runtime image),
 * but the main runs the given command once (restartPolicy Never) in the bundle's
 * folder. The native sidecar keeps running while the command does and is stopped
 * after it exits, so the pod completes (NATIVE-SIDECARS.md rule 11).
 */
export function renderJobPod(input: RenderJobInput): Pod {
  // A one-off command serves no traffic and is not watched: no platform sidecars.
  const { app } = input;
  const pod = renderPod({ ...input, app: { name: app.name, resources: app.resources, secrets: app.secrets } });
  const runtime = pod.spec.containers[0]!;
  const env = withNodeTrust([
    ...(runtime.env ?? []).filter((e) => !(input.env && e.name in input.env)),
    ...sortedEnv(input.env ?? {}),
  ]);
  const job: Container = {
    name: runtime.name,
    image: runtime.image,
    // Not `workingDir`: Docker creates a working directory when it creates the container,
    // which would plant a real `current` directory in the shared volume before the logic
    // sidecar publishes its `current` symlink. Changing directory at run time works on both targets.
    command: ['sh', '-c', `cd ${JOB_WORKING_DIR} && exec "$@"`, 'job', ...input.command],
    env,
    ...(runtime.volumeMounts ? { volumeMounts: runtime.volumeMounts } : {}),
    ...(runtime.resources ? { resources: runtime.resources } : {}),
    ...(runtime.securityContext ? { securityContext: runtime.securityContext } : {}),
  };
  pod.metadata.labels = { ...pod.metadata.labels, [Labels.kind]: 'job' };
  pod.spec = { ...pod.spec, restartPolicy: 'Never', containers: [job] };
  return pod;
}
