import { createHash } from 'node:crypto';
import type { App } from './app.js';
import { DomainError, ErrorCode, errorText } from './errors.js';
import { KubeLabels, MANAGED_BY, objectMeta, selectorLabels, type KubeObject } from './k8s-meta.js';
import {
  renderAppNetworkPolicy,
  renderDefaultDenyPolicy,
  type NetworkPolicy,
  type NetworkPolicySettings,
} from './k8s-network-policies.js';
import type { Container, EnvVar, Pod, PodSpec, Volume } from './k8s-types.js';
import { LABEL_PREFIX, Labels } from './labels.js';
import {
  enabledSidecars,
  isPlatformSidecar,
  PlatformSidecar,
  TLS_SECRET,
  tlsSecretNameFor,
  type PlatformSidecarImages,
  type PlatformSidecarInput,
  type PodSecrets,
  type TlsMaterial,
} from './platform-sidecars.js';
import {
  DEFAULT_TEMPLATE_SETTINGS,
  renderJobPod,
  renderPod,
  renderPodSecrets,
  type RenderInput,
  type TemplateSettings,
} from './pod-template.js';
import { validatePod } from './pod-validation.js';
import type { Release } from './release.js';

/**
 * App + release → the Kubernetes objects it runs as: its NetworkPolicies (k8s-network-policies.ts),
 * a Deployment whose pod template is `renderPod`'s spec (the one template), a Service, an Ingress
 * and, when the app has secrets, a Secret. Jobs become batch/v1 Jobs around `renderJobPod`'s spec.
 * Pure: the Kubernetes target applies these, `GET /apps/:app/manifests` shows them.
 */

/** Marks a Secret whose values were replaced by `******` (never apply such a Secret). */
export const MASKED_ANNOTATION = `${LABEL_PREFIX}/values-masked`;
export const SECRET_MASK = '******';

export interface KubernetesSettings {
  /** The namespace all apps of this platform live in. */
  namespace: string;
  platformId: string;
  ingressClassName: string;
  /** Host name of an app's Ingress; `{app}` is replaced by the app name, e.g. `{app}.apps.example.com`. */
  hostPattern: string;
  /** Registry host[:port] the logic images are pushed to; images under it are referenced by digest. */
  registry?: string | undefined;
  /** Seconds a rollout may make no progress before the Deployment reports ProgressDeadlineExceeded. */
  progressDeadlineSeconds?: number;
  /** The platform sidecars' images as the nodes pull them (`<registry>/<repo>@sha256:…`); needed once an app enables one. */
  sidecarImages?: PlatformSidecarImages | undefined;
  template?: TemplateSettings;
  /** Who may reach app pods and what they may reach (default: `DEFAULT_NETWORK_POLICY_SETTINGS`). */
  networkPolicy?: NetworkPolicySettings | undefined;
  /** A `kubernetes.io/dockerconfigjson` Secret in the namespace the nodes pull the platform's images with. */
  imagePullSecret?: string | undefined;
}

/** Whether a Secret carries real values (the target applies it) or masked ones (shown to users). */
export const SecretValues = { include: 'include', mask: 'mask' } as const;
export type SecretValues = (typeof SecretValues)[keyof typeof SecretValues];

/** The cluster-side env var: a value, or a reference to a key of the app's Secret. */
export interface KubeEnvVar extends EnvVar {
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}
export interface KubeContainer extends Omit<Container, 'env'> {
  env?: KubeEnvVar[];
  imagePullPolicy?: 'IfNotPresent';
}
export interface KubeVolume {
  name: string;
  emptyDir?: { medium?: string; sizeLimit?: string };
  secret?: { secretName: string; defaultMode?: number };
}
export interface KubePodSpec extends Omit<PodSpec, 'initContainers' | 'containers' | 'volumes'> {
  initContainers?: KubeContainer[];
  containers: KubeContainer[];
  volumes?: KubeVolume[];
  automountServiceAccountToken: boolean;
  enableServiceLinks: boolean;
  securityContext: { runAsNonRoot: boolean; seccompProfile: { type: 'RuntimeDefault' } };
  imagePullSecrets?: { name: string }[];
}
export interface KubePodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: KubePodSpec;
}

export interface Deployment extends KubeObject {
  apiVersion: 'apps/v1';
  kind: 'Deployment';
  spec: {
    replicas: number;
    revisionHistoryLimit: number;
    progressDeadlineSeconds: number;
    selector: { matchLabels: Record<string, string> };
    strategy: { type: 'RollingUpdate'; rollingUpdate: { maxUnavailable: number | string; maxSurge: number | string } };
    template: KubePodTemplate;
  };
}
export interface Service extends KubeObject {
  apiVersion: 'v1';
  kind: 'Service';
  spec: {
    type: 'ClusterIP';
    selector: Record<string, string>;
    ports: { name: string; port: number; targetPort: string; protocol: 'TCP' }[];
  };
}
export interface Ingress extends KubeObject {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'Ingress';
  spec: {
    ingressClassName: string;
    rules: {
      host: string;
      http: {
        paths: { path: string; pathType: 'Prefix'; backend: { service: { name: string; port: { name: string } } } }[];
      };
    }[];
  };
}
export interface Secret extends KubeObject {
  apiVersion: 'v1';
  kind: 'Secret';
  type: 'Opaque';
  stringData: Record<string, string>;
}
export interface KubeJob extends KubeObject {
  apiVersion: 'batch/v1';
  kind: 'Job';
  spec: { backoffLimit: number; ttlSecondsAfterFinished: number; template: KubePodTemplate };
}
export type AppManifest = Secret | NetworkPolicy | Deployment | Service | Ingress;
export type Manifest = AppManifest | KubeJob;

export interface RenderManifestsInput {
  app: Pick<App, 'name' | 'resources' | 'secrets' | 'replicas'> & Partial<Pick<App, 'sidecars' | 'network'>>;
  release: Pick<Release, 'version' | 'image' | 'imageDigest' | 'runtimeImage' | 'env' | 'manifest'>;
  settings: KubernetesSettings;
  /** Default `mask`: only the target, which sends them to the cluster, asks for the real values. */
  secretValues?: SecretValues;
  /** The `tls` sidecar's certificate, when the app enables it and secret values are included. */
  tls?: TlsMaterial | undefined;
}
export interface RenderJobManifestInput extends RenderManifestsInput {
  jobId: string;
  command: string[];
  env?: Record<string, string>;
}

const SERVICE_PORT = { name: 'http', port: 80 } as const;
/** Docker gives each read-only container a 64 MiB tmpfs at /tmp; on a cluster that is a memory emptyDir per container. */
const TMP = { mountPath: '/tmp', sizeLimit: '64Mi' } as const;
const JOB_TTL_SECONDS = 3600;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/**
 * Secrets are named by their content (`<app>-secrets-<hash>`, `<app>-sidecars-<hash>`) and the pod
 * template refers to those names, so a Deployment's template pins the values it was applied with.
 * A new release's values never overwrite the ones the pods of an earlier template (a rollback's,
 * or old pods restarting during a rollout) read: those stay in their own Secret, which the target
 * deletes only once a later rollout is done. The hash covers names and values, so changing either
 * makes a new Secret (and a new template: the pods restart with the new values).
 */
export const contentHash = (values: Record<string, string>): string =>
  createHash('sha256')
    .update(
      JSON.stringify(
        Object.keys(values)
          .sort()
          .map((k) => [k, values[k]]),
      ),
    )
    .digest('hex')
    .slice(0, 10);
/** The Secret holding the app's secrets (as the app has them now). */
export const secretNameFor = (app: string, values: Record<string, string>) => `${app}-secrets-${contentHash(values)}`;
/** The Secret holding the platform sidecars' secret files (the TLS certificate and key), mounted by the `tls` sidecar only. */
export const sidecarSecretNameFor = (app: string, values: Record<string, string>) =>
  `${app}-sidecars-${contentHash(values)}`;
/** `<app>-job-<id>`: job ids (`j_...`) made DNS-safe; unique per job. */
export const jobNameFor = (app: string, jobId: string) =>
  `${app}-job-${jobId.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 63).replace(/-+$/, '');

export function hostFor(hostPattern: string, app: string): string {
  if (!hostPattern.includes('{app}'))
    throw new DomainError(ErrorCode.invalidRequest, `ingress host pattern ${JSON.stringify(hostPattern)} has no {app}`);
  return hostPattern.replaceAll('{app}', app);
}

/**
 * `<registry>/<repo>@sha256:...` when the release's image was pushed to the configured
 * registry (its tag lives under the registry and its digest is the registry's manifest
 * digest), else the tag as built. A digest pins exactly what was tested, and a node
 * never runs a different image that happens to carry the same tag.
 */
export function imageRefFor(release: Pick<Release, 'image' | 'imageDigest'>, registry: string | undefined): string {
  if (!registry || !release.image.startsWith(`${registry}/`) || !DIGEST.test(release.imageDigest)) return release.image;
  const name = release.image.slice(registry.length + 1);
  const repo = name.includes('@')
    ? name.slice(0, name.indexOf('@'))
    : name.includes(':')
      ? name.slice(0, name.lastIndexOf(':'))
      : name;
  return `${registry}/${repo}@${release.imageDigest}`;
}

export function renderAppManifests(input: RenderManifestsInput): AppManifest[] {
  const { app, release, settings } = input;
  const meta = (name: string) => objectMeta(settings, app.name, name);
  const selector = selectorLabels(settings, app.name);
  const masked = (input.secretValues ?? SecretValues.mask) === SecretValues.mask;
  const podInput: RenderInput = {
    app: {
      name: app.name,
      resources: app.resources,
      secrets: app.secrets,
      ...(app.sidecars ? { sidecars: app.sidecars } : {}),
    },
    release,
    podName: app.name,
    settings: templateSettings(settings),
    platformSidecars: sidecarInput(input, masked),
  };
  const pod = renderPod(podInput);
  const secret = renderAppSecret(input);
  const sidecarSecret = renderSidecarSecret({
    podSecrets: renderPodSecrets(podInput),
    settings,
    app: app.name,
    masked,
    tls: input.tls ?? ownTls(app.sidecars),
  });
  const secretNames = { app: secret?.metadata.name, sidecars: sidecarSecret?.metadata.name };

  const deployment: Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { ...meta(app.name), annotations: { [Labels.release]: String(release.version) } },
    spec: {
      replicas: app.replicas,
      revisionHistoryLimit: 5,
      progressDeadlineSeconds: settings.progressDeadlineSeconds ?? 600,
      selector: { matchLabels: selector },
      // As on Docker: new pods are Ready before any old one stops.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
      template: podTemplate({
        pod,
        settings,
        app: app.name,
        logicImage: imageRefFor(release, settings.registry),
        secretKeys: Object.keys(app.secrets),
        secretNames,
      }),
    },
  };
  // The runtime's HTTP on port 80; every port a platform sidecar declares (tls: `https` 8443) as itself.
  const sidecarPorts = (pod.spec.initContainers ?? [])
    .filter((c) => isPlatformSidecar(c.name))
    .flatMap((c) => c.ports ?? []);
  const servicePorts = [
    { name: SERVICE_PORT.name, port: SERVICE_PORT.port, targetPort: 'http', protocol: 'TCP' as const },
    ...sidecarPorts
      .filter((p) => p.name)
      .map((p) => ({ name: p.name!, port: p.containerPort, targetPort: p.name!, protocol: 'TCP' as const })),
  ];
  const service: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(app.name),
    spec: {
      type: 'ClusterIP',
      selector,
      ports: servicePorts,
    },
  };
  // The policies allow what the Service sends to: each target port as the container declares it.
  const containerPorts = new Map(
    [...(pod.spec.initContainers ?? []), ...pod.spec.containers]
      .flatMap((c) => c.ports ?? [])
      .map((p) => [p.name, p.containerPort] as const),
  );
  const policies = [
    renderDefaultDenyPolicy(settings),
    renderAppNetworkPolicy({
      scope: settings,
      app: app.name,
      network: app.network,
      ports: servicePorts.map((p) => containerPorts.get(p.targetPort)).filter((p): p is number => p !== undefined),
      settings: settings.networkPolicy,
    }),
  ];
  const ingress: Ingress = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta(app.name),
    spec: {
      ingressClassName: settings.ingressClassName,
      rules: [
        {
          host: hostFor(settings.hostPattern, app.name),
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: app.name, port: { name: SERVICE_PORT.name } } },
              },
            ],
          },
        },
      ],
    },
  };
  // Applied in this order: no pod is ever created before the policies that isolate it and the values it refers to.
  return [
    ...policies,
    ...(secret ? [secret] : []),
    ...(sidecarSecret ? [sidecarSecret] : []),
    deployment,
    service,
    ingress,
  ];
}

/**
 * What renderPod needs for the platform sidecars the app enables: their images from the
 * settings and, for `tls`, the certificate (masked when the values are masked: they only
 * reach the sidecar Secret, which is then masked too).
 */
function sidecarInput(input: RenderManifestsInput, masked: boolean): PlatformSidecarInput | undefined {
  const wanted = enabledSidecars(input.app.sidecars);
  if (wanted.length === 0) return undefined;
  const images = input.settings.sidecarImages;
  if (!images)
    throw new DomainError(
      ErrorCode.notReady,
      `platform sidecars ${wanted.join(', ')} are enabled but no sidecar images are known (the worker publishes them at start)`,
    );
  if (!wanted.includes(PlatformSidecar.tls)) return { images };
  if (masked) return { images, tls: { cert: SECRET_MASK, key: SECRET_MASK } };
  if (!input.tls)
    throw new DomainError(ErrorCode.invalidRequest, 'the tls sidecar is enabled but no certificate was supplied');
  return { images, tls: input.tls };
}

/** A one-off run as a batch/v1 Job whose pod is `renderJobPod`'s: the logic sidecar, then the command once. */
export function renderJobManifest(input: RenderJobManifestInput): KubeJob {
  const { app, release, settings, jobId } = input;
  const name = jobNameFor(app.name, jobId);
  const pod = renderJobPod({
    app,
    release,
    podName: name,
    command: input.command,
    env: input.env ?? {},
    settings: templateSettings(settings),
  });
  // Keys the job's own env overrides stay plain values.
  const secretKeys = Object.keys(app.secrets).filter((k) => !(input.env && k in input.env));
  const secretNames = { app: renderAppSecret(input)?.metadata.name, sidecars: undefined };
  const template = podTemplate({
    pod,
    settings,
    app: app.name,
    logicImage: imageRefFor(release, settings.registry),
    secretKeys,
    secretNames,
  });
  template.metadata.labels[Labels.deploy] = jobId;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: objectMeta(settings, app.name, name, { [Labels.kind]: 'job', [Labels.deploy]: jobId }),
    spec: {
      // The platform runs a job once (a worker that lost it reports it failed, never reruns it).
      backoffLimit: 0,
      // The target deletes the Job once it has its exit code and output; this only catches leftovers.
      ttlSecondsAfterFinished: JOB_TTL_SECONDS,
      template,
    },
  };
}

function templateSettings(settings: KubernetesSettings): TemplateSettings {
  return settings.template ?? DEFAULT_TEMPLATE_SETTINGS;
}

/** The app's Secret (none when it has no secrets); a job's pod refers to it too, so the target applies it before a Job. */
export function renderAppSecret(
  input: Pick<RenderManifestsInput, 'app' | 'settings' | 'secretValues'>,
): Secret | undefined {
  const { app, settings } = input;
  const masked = (input.secretValues ?? SecretValues.mask) === SecretValues.mask;
  return secretOf({ settings, app: app.name, name: secretNameFor(app.name, app.secrets), values: app.secrets, masked });
}

/**
 * The Secret of the platform sidecars' secret volumes (the TLS certificate and key; already masked
 * when masking). The name hashes the real values where they are known (the certificate sent to the
 * cluster, or the app's own when masking), so `/manifests` names the Secret the cluster has; a
 * platform-issued certificate is issued per rollout and unknown there (the name then hashes the masks).
 */
function renderSidecarSecret(o: {
  podSecrets: PodSecrets;
  settings: KubernetesSettings;
  app: string;
  masked: boolean;
  tls: TlsMaterial | undefined;
}): Secret | undefined {
  const values = o.podSecrets[tlsSecretNameFor(o.app)];
  if (!values) return undefined;
  const real = o.tls ? { [TLS_SECRET.certFile]: o.tls.cert, [TLS_SECRET.keyFile]: o.tls.key } : values;
  return secretOf({
    settings: o.settings,
    app: o.app,
    name: sidecarSecretNameFor(o.app, real),
    values,
    masked: o.masked,
  });
}

/** The certificate an app brings itself, if any. */
function ownTls(sidecars: RenderManifestsInput['app']['sidecars']): TlsMaterial | undefined {
  const tls = sidecars?.tls;
  return tls?.enabled && tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : undefined;
}

function secretOf(o: {
  settings: KubernetesSettings;
  app: string;
  name: string;
  values: Record<string, string>;
  masked: boolean;
}): Secret | undefined {
  const keys = Object.keys(o.values).sort();
  if (keys.length === 0) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      ...objectMeta(o.settings, o.app, o.name),
      ...(o.masked ? { annotations: { [MASKED_ANNOTATION]: 'true' } } : {}),
    },
    type: 'Opaque',
    stringData: Object.fromEntries(keys.map((k) => [k, o.masked ? SECRET_MASK : o.values[k]!])),
  };
}

/**
 * The template's pod spec on a cluster. Only what the cluster needs differently from Docker:
 * secret values become references to the app's Secret; the Docker target's per-container /tmp
 * tmpfs becomes a memory emptyDir; the pod gets no API token and the runtime's default
 * seccomp profile (Docker applies its default profile too); the pod-name label goes (the
 * ReplicaSet names pods) and the logic image is referenced by digest when one is known.
 */
function podTemplate(opts: {
  pod: Pod;
  settings: KubernetesSettings;
  app: string;
  logicImage: string;
  secretKeys: string[];
  /** The names of the app's and the sidecars' Secrets (content-hashed), when there are any. */
  secretNames: { app: string | undefined; sidecars: string | undefined };
}): KubePodTemplate {
  const { pod, settings } = opts;
  const secrets = new Set(opts.secretKeys);
  const tmpVolume = (c: Container) => `tmp-${c.name}`.slice(0, 63);
  // The app's secrets reach its own containers (a platform sidecar's are files of its own Secret).
  const fromSecret = (c: Container, e: EnvVar): KubeEnvVar => {
    if (isPlatformSidecar(c.name)) return e;
    const name = opts.secretNames.app;
    return name && secrets.has(e.name) ? { name: e.name, valueFrom: { secretKeyRef: { name, key: e.name } } } : e;
  };
  const convert = (c: Container, logic: boolean): KubeContainer => ({
    ...c,
    ...(logic ? { image: opts.logicImage } : {}),
    imagePullPolicy: 'IfNotPresent',
    ...(c.env ? { env: c.env.map((e) => fromSecret(c, e)) } : {}),
    volumeMounts: [
      ...(c.volumeMounts ?? []),
      ...(c.securityContext?.readOnlyRootFilesystem ? [{ name: tmpVolume(c), mountPath: TMP.mountPath }] : []),
    ],
  });
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const { [Labels.pod]: _podName, ...labels } = pod.metadata.labels ?? {};
  return {
    metadata: {
      labels: {
        ...labels,
        [KubeLabels.platform]: settings.platformId,
        [KubeLabels.name]: opts.app,
        [KubeLabels.managedBy]: MANAGED_BY,
      },
    },
    spec: {
      ...pod.spec,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(settings.imagePullSecret ? { imagePullSecrets: [{ name: settings.imagePullSecret }] } : {}),
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      volumes: [
        ...(pod.spec.volumes ?? []).map((v) => volumeOf(v, opts.secretNames.sidecars)),
        ...all
          .filter((c) => c.securityContext?.readOnlyRootFilesystem)
          .map((c) => ({ name: tmpVolume(c), emptyDir: { medium: 'Memory', sizeLimit: TMP.sizeLimit } })),
      ],
      initContainers: (pod.spec.initContainers ?? []).map((c) => convert(c, c.name === LOGIC_CONTAINER)),
      containers: pod.spec.containers.map((c) => convert(c, false)),
    },
  };
}

/** A template volume on a cluster: a secret volume refers to the content-named sidecar Secret. */
function volumeOf(v: Volume, sidecarSecret: string | undefined): KubeVolume {
  if (!v.secret) return { name: v.name, emptyDir: v.emptyDir ?? {} };
  if (!sidecarSecret) throw new Error(`volume ${v.name} refers to a Secret that was not rendered`);
  return { name: v.name, secret: { ...v.secret, secretName: sidecarSecret } };
}

/** The logic sidecar's name in the template: the one container whose image is the release's. */
const LOGIC_CONTAINER = 'app';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const pick = (o: Obj, keys: readonly string[]): Obj =>
  Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
/** What the native-sidecar rules read of a container; everything else is the schema's to check. */
const RULE_FIELDS = [
  'name',
  'image',
  'restartPolicy',
  'startupProbe',
  'readinessProbe',
  'livenessProbe',
  'lifecycle',
] as const;
const projectContainer = (c: unknown): unknown => {
  if (!isObj(c)) return c;
  return {
    ...pick(c, RULE_FIELDS),
    ...(Array.isArray(c.ports)
      ? { ports: c.ports.map((p: unknown) => (isObj(p) ? pick(p, ['containerPort', 'name']) : p)) }
      : {}),
    ...(Array.isArray(c.volumeMounts)
      ? {
          volumeMounts: c.volumeMounts.map((m: unknown) => (isObj(m) ? pick(m, ['name', 'mountPath', 'readOnly']) : m)),
        }
      : {}),
  };
};

/**
 * Core's pod rules (NATIVE-SIDECARS.md 22–24: restartPolicy only on init containers,
 * no probes or hooks on plain init containers, unique names, probe and hook shapes,
 * mounts of declared volumes) applied to the pod of any manifest: a Pod, or the pod
 * template of a Deployment, StatefulSet, Job, ... The OpenAPI schema cannot express
 * these rules (a main container's restartPolicy is schema-valid), so a manifest is
 * checked by the schema *and* by this. `validatePod` knows only the template's field
 * subset, so the pod is first projected onto the fields these rules read.
 * Throws DomainError(invalid_manifest) naming the manifest and the field.
 */
export function checkPodRules(manifest: unknown): void {
  if (!isObj(manifest)) return;
  const meta = isObj(manifest.metadata) ? manifest.metadata : {};
  const spec = isObj(manifest.spec) ? manifest.spec : {};
  const podSpec =
    manifest.kind === 'Pod' ? spec : isObj(spec.template) && isObj(spec.template.spec) ? spec.template.spec : undefined;
  if (!podSpec) return;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: typeof meta.name === 'string' ? meta.name : 'unnamed' },
    spec: {
      ...pick(podSpec, ['restartPolicy', 'terminationGracePeriodSeconds', 'shareProcessNamespace']),
      volumes: [
        ...(Array.isArray(podSpec.volumes)
          ? podSpec.volumes.map((v: unknown) => (isObj(v) ? { name: v.name, emptyDir: {} } : v))
          : []),
        // A StatefulSet's claim templates are volumes of its pods too.
        ...(Array.isArray(spec.volumeClaimTemplates)
          ? spec.volumeClaimTemplates.map((t: unknown) => ({
              name: isObj(t) && isObj(t.metadata) ? t.metadata.name : undefined,
              emptyDir: {},
            }))
          : []),
      ],
      ...(podSpec.initContainers !== undefined
        ? {
            initContainers: Array.isArray(podSpec.initContainers)
              ? podSpec.initContainers.map(projectContainer)
              : podSpec.initContainers,
          }
        : {}),
      containers: Array.isArray(podSpec.containers) ? podSpec.containers.map(projectContainer) : podSpec.containers,
    },
  };
  try {
    validatePod(pod);
  } catch (e) {
    const where = `${String(manifest.kind)} ${String(meta.name)}${manifest.kind === 'Pod' ? '' : ' (pod template)'}`;
    throw new DomainError(ErrorCode.invalidManifest, `${where}: ${errorText(e)}`, {
      cause: e,
    });
  }
}

/**
 * Only the app's NetworkPolicies, exactly as `renderAppManifests` renders them (a job applies
 * them before its Job: its pod is the app's, and the same object must not change with who applies it).
 */
export function renderNetworkPolicies(input: Omit<RenderManifestsInput, 'secretValues' | 'tls'>): NetworkPolicy[] {
  return renderAppManifests({ ...input, secretValues: SecretValues.mask }).filter(
    (m): m is NetworkPolicy => m.kind === 'NetworkPolicy',
  );
}
