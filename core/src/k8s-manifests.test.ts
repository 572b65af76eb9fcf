import { describe, expect, it } from 'vitest';
// Test-only: the official Kubernetes 1.33 OpenAPI schema, as generated models (core itself stays dependency-free).
import { Deployment as DeploymentModel } from 'kubernetes-models/apps/v1';
import { Job as JobModel } from 'kubernetes-models/batch/v1';
import { Ingress as IngressModel, NetworkPolicy as NetworkPolicyModel } from 'kubernetes-models/networking.k8s.io/v1';
import { Secret as SecretModel, Service as ServiceModel } from 'kubernetes-models/v1';
import { APP_DEFAULTS } from './app.js';
import {
  checkPodRules,
  imageRefFor,
  jobNameFor,
  renderAppManifests,
  renderJobManifest,
  secretNameFor,
  sidecarSecretNameFor,
  type Deployment,
  type Ingress,
  type KubeJob,
  type KubernetesSettings,
  type Manifest,
  type Secret,
  type Service,
} from './k8s-manifests.js';
import { labelSelectorFor } from './k8s-meta.js';
import { renderPod } from './pod-template.js';

const settings: KubernetesSettings = {
  namespace: 'sidecar-apps',
  platformId: 'prod',
  ingressClassName: 'nginx',
  hostPattern: '{app}.apps.example.com',
  registry: 'registry.example.com:5000',
};
const digest = `sha256:${'ab'.repeat(32)}`;
const plainApp = { name: 'hello', resources: { ...APP_DEFAULTS.resources }, secrets: {}, replicas: 1 };
const release = {
  version: 4,
  image: 'registry.example.com:5000/sidecar-app/hello:d_1',
  imageDigest: digest,
  runtimeImage: 'registry.example.com:5000/sidecar/runtime-node@sha256:' + 'cd'.repeat(32),
  env: {},
  manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' } as const,
};
const richApp = {
  name: 'shop',
  resources: { memory: '512Mi', cpu: '1' },
  secrets: { DB_PASSWORD: 's3cret', API_KEY: 'k' },
  replicas: 3,
};
/** The app's Secret is named by its content. */
const SECRET = secretNameFor('shop', richApp.secrets);
const richRelease = {
  ...release,
  image: 'sidecar-app/shop:d_2',
  imageDigest: 'sha256:localid',
  env: { GREETING: 'hi', MODE: 'prod' },
};

const MODELS: Record<string, new (d: never) => { validate(): void }> = {
  Deployment: DeploymentModel as never,
  Service: ServiceModel as never,
  Ingress: IngressModel as never,
  Secret: SecretModel as never,
  Job: JobModel as never,
  NetworkPolicy: NetworkPolicyModel as never,
};
/** The policies come first: the namespace's default-deny (the platform's), then the app's own. */
const POLICIES = ['NetworkPolicy', 'NetworkPolicy'];
/** The check: the 1.33 schema, then core's native-sidecar rules. */
function check(m: Manifest | Record<string, unknown>): void {
  const Model = MODELS[String((m as { kind: string }).kind)]!;
  new Model(m as never).validate();
  checkPodRules(m);
}
const byKind = <K extends Manifest['kind']>(ms: Manifest[], kind: K) =>
  ms.find((m) => m.kind === kind) as Extract<Manifest, { kind: K }>;

describe('renderAppManifests', () => {
  const plain = renderAppManifests({ app: plainApp, release, settings });
  const rich = renderAppManifests({ app: richApp, release: richRelease, settings, secretValues: 'include' });

  it('renders a plain app as its NetworkPolicies, Deployment, Service and Ingress that pass the Kubernetes 1.33 schema and the pod rules', () => {
    expect(plain.map((m) => m.kind)).toEqual([...POLICIES, 'Deployment', 'Service', 'Ingress']);
    for (const m of plain) expect(() => check(m)).not.toThrow();
  });

  it('renders an app with replicas, env and secrets (Secret before the Deployment) that passes the same check', () => {
    expect(rich.map((m) => m.kind)).toEqual([...POLICIES, 'Secret', 'Deployment', 'Service', 'Ingress']);
    for (const m of rich) expect(() => check(m)).not.toThrow();
    expect(byKind(rich, 'Deployment').spec.replicas).toBe(3);
  });

  it("wraps exactly renderPod's containers: native sidecar with startup probe, runtime with readiness probe, limits, security", () => {
    const d = byKind(plain, 'Deployment');
    const pod = renderPod({ app: plainApp, release, podName: 'hello' });
    const [logic] = d.spec.template.spec.initContainers!;
    const [runtime] = d.spec.template.spec.containers;
    expect(logic).toMatchObject({
      ...pod.spec.initContainers![0],
      image: `registry.example.com:5000/sidecar-app/hello@${digest}`,
      volumeMounts: expect.any(Array),
    });
    expect(logic!.restartPolicy).toBe('Always');
    expect(logic!.startupProbe).toEqual(pod.spec.initContainers![0]!.startupProbe);
    expect(runtime).toMatchObject({
      name: 'runtime',
      image: release.runtimeImage,
      readinessProbe: pod.spec.containers[0]!.readinessProbe,
      resources: { limits: { memory: '256Mi', cpu: '500m' } },
    });
    expect(runtime!.restartPolicy).toBeUndefined();
    for (const c of [logic!, runtime!]) {
      expect(c.securityContext).toEqual(pod.spec.containers[0]!.securityContext);
      // Docker's read-only root comes with a /tmp tmpfs; the cluster gets a memory emptyDir per container.
      expect(c.volumeMounts).toContainEqual({ name: `tmp-${c.name}`, mountPath: '/tmp' });
    }
    expect(d.spec.template.spec).toMatchObject({
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      terminationGracePeriodSeconds: 30,
    });
    expect(d.spec.template.spec.volumes).toContainEqual({ name: 'workspace', emptyDir: {} });
    expect(d.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it("labels every object as this platform's and selects pods by platform labels that never change between releases", () => {
    const selector = { 'sidecar.paas/managed': 'true', 'sidecar.paas/platform': 'prod', 'sidecar.paas/app': 'shop' };
    // The namespace's default-deny policy is the platform's: its labels name no app (removing an app leaves it).
    const [platformPolicy, ...appObjects] = rich;
    expect(platformPolicy!.metadata.labels).toEqual({
      'sidecar.paas/managed': 'true',
      'sidecar.paas/platform': 'prod',
      'app.kubernetes.io/managed-by': 'sidecar-paas',
    });
    for (const m of appObjects) {
      expect(m.metadata).toMatchObject({ namespace: 'sidecar-apps', labels: selector });
      expect(m.metadata.labels!['app.kubernetes.io/managed-by']).toBe('sidecar-paas');
    }
    const d = byKind(rich, 'Deployment');
    expect(d.spec.selector.matchLabels).toEqual(selector);
    expect(d.spec.template.metadata.labels).toMatchObject({ ...selector, 'sidecar.paas/release': '4' });
    expect(d.spec.template.metadata.labels['sidecar.paas/pod']).toBeUndefined();
    expect((byKind(rich, 'Service') as Service).spec.selector).toEqual(selector);
    expect(labelSelectorFor(settings, 'shop')).toBe(
      'sidecar.paas/managed=true,sidecar.paas/platform=prod,sidecar.paas/app=shop',
    );
  });

  it("keeps secret values out of the Deployment: the runtime reads them from the app's Secret", () => {
    const d = byKind(rich, 'Deployment');
    expect(JSON.stringify(d)).not.toContain('s3cret');
    expect(d.spec.template.spec.containers[0]!.env).toEqual(
      expect.arrayContaining([
        { name: 'GREETING', value: 'hi' },
        { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: SECRET, key: 'DB_PASSWORD' } } },
      ]),
    );
    expect(JSON.stringify(d.spec.template.spec.initContainers)).not.toContain('DB_PASSWORD');
    expect((byKind(rich, 'Secret') as Secret).stringData).toEqual({ API_KEY: 'k', DB_PASSWORD: 's3cret' });
  });

  it('names the Secret by its content: new values are a new Secret and a new template; masking keeps the name', () => {
    expect(SECRET).toMatch(/^shop-secrets-[a-f0-9]{10}$/);
    expect(byKind(rich, 'Secret').metadata.name).toBe(SECRET);
    const changed = renderAppManifests({
      app: { ...richApp, secrets: { ...richApp.secrets, DB_PASSWORD: 'rotated' } },
      release: richRelease,
      settings,
      secretValues: 'include',
    });
    const name = byKind(changed, 'Secret').metadata.name;
    expect(name).not.toBe(SECRET);
    expect(JSON.stringify(byKind(changed, 'Deployment').spec.template)).toContain(name);
    expect(JSON.stringify(byKind(changed, 'Deployment').spec.template)).not.toContain(SECRET);
    // What /manifests shows names the Secret the cluster has, without its values.
    const masked = renderAppManifests({ app: richApp, release: richRelease, settings });
    expect(byKind(masked, 'Secret').metadata.name).toBe(SECRET);
    expect(byKind(masked, 'Deployment')).toEqual(byKind(rich, 'Deployment'));
  });

  it('masks secret values unless asked for them (what users and `/manifests` see)', () => {
    const shown = renderAppManifests({ app: richApp, release: richRelease, settings });
    const s = byKind(shown, 'Secret') as Secret;
    expect(s.stringData).toEqual({ API_KEY: '******', DB_PASSWORD: '******' });
    expect(s.metadata.annotations).toEqual({ 'sidecar.paas/values-masked': 'true' });
    expect(JSON.stringify(shown)).not.toContain('s3cret');
  });

  it('routes the host from the pattern to the Service with the configured ingress class', () => {
    const ing = byKind(plain, 'Ingress') as Ingress;
    expect(ing.spec).toEqual({
      ingressClassName: 'nginx',
      rules: [
        {
          host: 'hello.apps.example.com',
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'hello', port: { name: 'http' } } } }],
          },
        },
      ],
    });
    expect((byKind(plain, 'Service') as Service).spec.ports).toEqual([
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
    ]);
  });
});

describe('imageRefFor', () => {
  it('references a pushed image by its registry digest, else by tag', () => {
    expect(imageRefFor({ image: 'r:5000/sidecar-app/a:d_1', imageDigest: digest }, 'r:5000')).toBe(
      `r:5000/sidecar-app/a@${digest}`,
    );
    expect(imageRefFor({ image: 'sidecar-app/a:d_1', imageDigest: digest }, 'r:5000')).toBe('sidecar-app/a:d_1'); // not in the registry
    expect(imageRefFor({ image: 'r:5000/sidecar-app/a:d_1', imageDigest: digest }, undefined)).toBe(
      'r:5000/sidecar-app/a:d_1',
    );
    expect(imageRefFor({ image: 'r:5000/sidecar-app/a:d_1', imageDigest: 'sha256:short' }, 'r:5000')).toBe(
      'r:5000/sidecar-app/a:d_1',
    );
  });
});

describe('renderJobManifest', () => {
  const job: KubeJob = renderJobManifest({
    app: richApp,
    release: richRelease,
    settings,
    jobId: 'j_0abc12345ffee',
    command: ['node', 'task.js'],
    env: { API_KEY: 'job wins' },
  });

  it("is a batch/v1 Job around renderJobPod's pod that passes the same check, run once", () => {
    expect(() => check(job)).not.toThrow();
    expect(job.metadata.name).toBe(jobNameFor('shop', 'j_0abc12345ffee'));
    expect(job.metadata.name).toBe('shop-job-j-0abc12345ffee');
    expect(job.spec.backoffLimit).toBe(0);
    const spec = job.spec.template.spec;
    expect(spec.restartPolicy).toBe('Never');
    expect(spec.initContainers![0]).toMatchObject({ name: 'app', restartPolicy: 'Always' });
    expect(spec.containers[0]!.command).toEqual([
      'sh',
      '-c',
      'cd /workspace/current && exec "$@"',
      'job',
      'node',
      'task.js',
    ]);
    expect(job.spec.template.metadata.labels).toMatchObject({
      'sidecar.paas/kind': 'job',
      'sidecar.paas/deploy': 'j_0abc12345ffee',
      'sidecar.paas/platform': 'prod',
    });
  });

  it("gives the job its env over the app's, secrets by reference", () => {
    const env = job.spec.template.spec.containers[0]!.env!;
    expect(env).toContainEqual({ name: 'API_KEY', value: 'job wins' });
    expect(env).toContainEqual({
      name: 'DB_PASSWORD',
      valueFrom: { secretKeyRef: { name: SECRET, key: 'DB_PASSWORD' } },
    });
    expect(JSON.stringify(job)).not.toContain('s3cret');
  });
});

describe('renderAppManifests: platform sidecars, from the same pod template as Docker', () => {
  const sidecarImages = {
    logs: `registry.example.com:5000/sidecar/log-shipper@sha256:${'33'.repeat(32)}`,
    tls: `registry.example.com:5000/sidecar/tls-terminator@sha256:${'11'.repeat(32)}`,
    procinfo: `registry.example.com:5000/sidecar/procinfo@sha256:${'22'.repeat(32)}`,
  };
  const withImages = { ...settings, sidecarImages };
  const tls = {
    cert: '-----BEGIN CERTIFICATE-----\nMIIcert\n-----END CERTIFICATE-----\n',
    key: '-----BEGIN PRIVATE KEY-----\nMIIkey\n-----END PRIVATE KEY-----\n',
  };
  const sidecarApp = { ...richApp, sidecars: { logs: true, procinfo: true, tls: { enabled: true } } };
  const real = renderAppManifests({
    app: sidecarApp,
    release: richRelease,
    settings: withImages,
    secretValues: 'include',
    tls,
  });
  const masked = renderAppManifests({ app: sidecarApp, release: richRelease, settings: withImages });
  const SIDECARS = sidecarSecretNameFor('shop', { 'tls.crt': tls.cert, 'tls.key': tls.key });

  it("adds the enabled sidecars in the template's order, by the settings' digests, with the pod sharing its PID namespace for procinfo", () => {
    const pod = byKind(real, 'Deployment').spec.template.spec;
    const docker = renderPod({
      app: sidecarApp,
      release: richRelease,
      podName: 'x',
      platformSidecars: { images: sidecarImages, tls },
    }).spec;
    expect(pod.initContainers!.map((c) => c.name)).toEqual(docker.initContainers!.map((c) => c.name));
    expect(pod.initContainers!.map((c) => c.name)).toEqual(['logs', 'app', 'tls', 'procinfo']);
    const platform = pod.initContainers!.filter((c) => c.name !== 'app');
    expect(platform.map((c) => [c.image, c.restartPolicy])).toEqual([
      [sidecarImages.logs, 'Always'],
      [sidecarImages.tls, 'Always'],
      [sidecarImages.procinfo, 'Always'],
    ]);
    expect(pod.shareProcessNamespace).toBe(true);
    for (const m of real) check(m);
    for (const m of masked) check(m);
  });

  it('delivers the TLS certificate and key as files of the sidecar Secret, mounted by the tls sidecar only, never in the Deployment', () => {
    expect(real.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
      'NetworkPolicy/sidecar.prod.default-deny',
      'NetworkPolicy/shop',
      `Secret/${SECRET}`,
      `Secret/${SIDECARS}`,
      'Deployment/shop',
      'Service/shop',
      'Ingress/shop',
    ]);
    const secret = real.find((m): m is Secret => m.kind === 'Secret' && m.metadata.name === SIDECARS)!;
    expect(secret.stringData).toEqual({ 'tls.crt': tls.cert, 'tls.key': tls.key });
    const spec = byKind(real, 'Deployment').spec.template.spec;
    expect(spec.volumes).toContainEqual({ name: 'tls-material', secret: { secretName: SIDECARS, defaultMode: 0o444 } });
    const tlsContainer = spec.initContainers!.find((c) => c.name === 'tls')!;
    expect(tlsContainer.env).toEqual([
      { name: 'SIDECAR_TLS_CERT_FILE', value: '/run/secrets/sidecar-tls/tls.crt' },
      { name: 'SIDECAR_TLS_KEY_FILE', value: '/run/secrets/sidecar-tls/tls.key' },
      { name: 'SIDECAR_TLS_PORT', value: '8443' },
    ]);
    expect(tlsContainer.securityContext).toMatchObject({ runAsUser: 2002, runAsGroup: 2002 });
    const mounting = [...spec.initContainers!, ...spec.containers].filter((c) =>
      c.volumeMounts?.some((m) => m.name === 'tls-material'),
    );
    expect(mounting.map((c) => c.name)).toEqual(['tls']);
    expect(JSON.stringify(byKind(real, 'Deployment'))).not.toContain('MIIkey');
  });

  it("masks the sidecar Secret like the app's (no certificate needed to render it)", () => {
    const secret = masked.find(
      (m): m is Secret => m.kind === 'Secret' && m.metadata.name.startsWith('shop-sidecars-'),
    )!;
    expect(secret.stringData).toEqual({ 'tls.crt': '******', 'tls.key': '******' });
    expect(secret.metadata.annotations).toEqual({ 'sidecar.paas/values-masked': 'true' });
    // A certificate the app brings is known when masking: the name is the cluster's.
    const own = renderAppManifests({
      app: { ...sidecarApp, sidecars: { ...sidecarApp.sidecars, tls: { enabled: true, ...tls } } },
      release: richRelease,
      settings: withImages,
    });
    expect(own.filter((m) => m.kind === 'Secret').map((m) => m.metadata.name)).toEqual([SECRET, SIDECARS]);
    expect(JSON.stringify(own)).not.toContain('MIIkey');
  });

  it('exposes 8443 as `https` on the Service only while tls is on', () => {
    expect(byKind(real, 'Service').spec.ports).toEqual([
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
      { name: 'https', port: 8443, targetPort: 'https', protocol: 'TCP' },
    ]);
    const procinfoOnly = renderAppManifests({
      app: { ...richApp, sidecars: { logs: true, procinfo: true, tls: { enabled: false } } },
      release: richRelease,
      settings: withImages,
    });
    expect(byKind(procinfoOnly, 'Service').spec.ports.map((p) => p.name)).toEqual(['http']);
    expect(procinfoOnly.some((m) => m.metadata.name.startsWith('shop-sidecars-'))).toBe(false);
  });

  it('fails plainly when a sidecar is enabled and no images are known, or tls has no certificate to send', () => {
    expect(() => renderAppManifests({ app: sidecarApp, release: richRelease, settings })).toThrow(
      /no sidecar images are known/,
    );
    expect(() =>
      renderAppManifests({ app: sidecarApp, release: richRelease, settings: withImages, secretValues: 'include' }),
    ).toThrow(/no certificate/);
  });

  it('gives Job pods no platform sidecars', () => {
    const job = renderJobManifest({
      app: sidecarApp,
      release: richRelease,
      settings: withImages,
      jobId: 'j_1',
      command: ['true'],
    });
    expect(job.spec.template.spec.initContainers!.map((c) => c.name)).toEqual(['app']);
  });
});

describe('the check rejects what a cluster would', () => {
  const deployment = () =>
    structuredClone(byKind(renderAppManifests({ app: plainApp, release, settings }), 'Deployment')) as Deployment;

  it("rejects restartPolicy Always on a main container (schema-valid, so core's rule catches it)", () => {
    const d = deployment();
    d.spec.template.spec.containers[0]!.restartPolicy = 'Always';
    expect(() => new DeploymentModel(d as never).validate()).not.toThrow(); // the schema alone lets it through
    expect(() => check(d)).toThrow(
      /Deployment hello \(pod template\): spec\.containers\[0\]\.restartPolicy: Forbidden/,
    );
  });

  it('rejects a probe on a plain init container', () => {
    const d = deployment();
    const { restartPolicy: _, ...plainInit } = d.spec.template.spec.initContainers![0]!;
    d.spec.template.spec.initContainers = [plainInit];
    expect(() => check(d)).toThrow(
      /spec\.initContainers\[0\]\.startupProbe: Forbidden: may not be set for init containers without restartPolicy=Always/,
    );
  });

  it('rejects schema violations (a port that is not a number, a missing image)', () => {
    const d = deployment() as unknown as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    d.spec.template.spec.containers[0]!.ports = [{ containerPort: 'http' }];
    expect(() => check(d as never)).toThrow(/containerPort must be integer/);
    const e = deployment() as unknown as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    delete e.spec.template.spec.containers[0]!.image;
    expect(() => check(e as never)).toThrow(/image/);
  });
});
