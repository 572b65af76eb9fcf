import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { renderAppManifests, renderJobManifest } from '@sidecar/core';
import { Deployment as DeploymentModel } from 'kubernetes-models/apps/v1';
import * as yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { KubernetesTarget } from './kubernetes-target.js';
import { checkManifest } from '@sidecar/k8s-schema';
import { testApp, testRelease, testSettings } from './test-support.js';

/**
 * Every manifest the platform renders or ships against the official Kubernetes 1.33 schema
 * plus unknown fields plus core's pod rules (checkManifest), and the rejections that must happen.
 */
const DEPLOY_DIR = fileURLToPath(new URL('../../../../deploy/kubernetes/', import.meta.url));
const plain = testApp('hello');
const rich = testApp('shop', {
  replicas: 3,
  env: { GREETING: 'hi', MODE: 'prod' },
  secrets: { DB_PASSWORD: 's3cret' },
});
const release = testRelease('shop', 7, { env: { GREETING: 'hi', MODE: 'prod' } });

describe('what the Kubernetes target renders passes the check', () => {
  // Rendering needs no server: the config is never used to connect.
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'none', server: 'http://127.0.0.1:1' }],
    users: [{ name: 'none' }],
    contexts: [{ name: 'none', cluster: 'none', user: 'none' }],
    currentContext: 'none',
  });
  const target = new KubernetesTarget({ kubeConfig, settings: testSettings });

  it.each([
    ['a plain app', plain],
    ['an app with replicas, env and secrets', rich],
  ])('%s', (_name, app) => {
    const manifests = target.manifests({ app, release: testRelease(app.name, 7, { env: app.env }) });
    expect(manifests.length).toBeGreaterThanOrEqual(3);
    for (const m of manifests) expect(() => checkManifest(m), `${m.kind} ${m.metadata.name}`).not.toThrow();
  });

  it('an app with every platform sidecar (tls, procinfo), with real and with masked values', () => {
    const tls = { cert: 'CERT', key: 'KEY' };
    const app = testApp('shop', { sidecars: { logs: true, procinfo: true, tls: { enabled: true } } });
    const real = target.manifests({ app, release, tls });
    const masked = renderAppManifests({ app, release, settings: testSettings });
    expect(real.map((m) => m.kind)).toEqual([
      'NetworkPolicy',
      'NetworkPolicy',
      'Secret',
      'Deployment',
      'Service',
      'Ingress',
    ]);
    for (const m of [...real, ...masked]) expect(() => checkManifest(m), `${m.kind} ${m.metadata.name}`).not.toThrow();
  });

  it('the NetworkPolicies of an app with no egress, and with an ingress pod selector and custom private ranges', () => {
    const closed = target.manifests({ app: testApp('shop', { network: { egress: 'none' } }), release });
    const custom = new KubernetesTarget({
      kubeConfig,
      settings: {
        ...testSettings,
        networkPolicy: {
          ingressFrom: { namespaceSelector: { edge: 'true' }, podSelector: { app: 'traefik' } },
          dns: { namespaceSelector: { 'kubernetes.io/metadata.name': 'kube-system' }, podSelector: { k: 'dns' } },
          privateCidrs: ['10.0.0.0/8', '203.0.113.0/24', 'fd00::/8'],
        },
      },
    }).manifests({ app: rich, release });
    const policies = [...closed, ...custom].filter((m) => m.kind === 'NetworkPolicy');
    expect(policies).toHaveLength(4);
    for (const m of policies) expect(() => checkManifest(m), m.metadata.name).not.toThrow();
  });

  it('a Job', () => {
    const job = renderJobManifest({
      app: rich,
      release,
      settings: testSettings,
      jobId: 'j_0000000001',
      command: ['node', 'task.js'],
      env: {},
    });
    expect(() => checkManifest(job)).not.toThrow();
  });
});

describe("deploy/kubernetes: the platform's own manifests pass the check", () => {
  const files = readdirSync(DEPLOY_DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  const docs = files.flatMap((f) =>
    yaml
      .loadAll(readFileSync(join(DEPLOY_DIR, f), 'utf8'))
      .filter(Boolean)
      .map((d) => ({ file: f, doc: d as { kind: string; metadata: { name: string } } })),
  );

  it('has the objects the platform needs', () => {
    const kinds = docs.map(({ doc }) => `${doc.kind}/${doc.metadata.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Namespace/sidecar-system',
        'Namespace/sidecar-apps',
        'Deployment/api',
        'Service/api',
        'Deployment/worker',
        'StatefulSet/redis',
        'Deployment/registry',
        'Deployment/builder',
        'Service/builder',
        'NetworkPolicy/default-deny-ingress',
        'NetworkPolicy/redis',
        'NetworkPolicy/registry',
        'NetworkPolicy/builder',
        'PersistentVolumeClaim/registry-data',
        'Role/sidecar-worker',
        'RoleBinding/sidecar-worker',
        'ServiceAccount/sidecar-worker',
      ]),
    );
  });

  it.each(docs.map(({ file, doc }) => [`${file}: ${doc.kind} ${doc.metadata.name}`, doc]))('%s', (_name, doc) => {
    expect(() => checkManifest(doc)).not.toThrow();
  });

  it('lists every file in kustomization.yaml', () => {
    const k = yaml.load(readFileSync(join(DEPLOY_DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect([...k.resources].sort()).toEqual([...files].sort());
  });

  it("gives every platform container resource requests and a probe (the worker's engine: a startup probe; none on a run-once init container)", () => {
    for (const { doc } of docs) {
      const spec = (
        doc as {
          spec?: {
            template?: { spec: { containers: Record<string, unknown>[]; initContainers?: Record<string, unknown>[] } };
          };
        }
      ).spec?.template?.spec;
      if (!spec) continue;
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        expect(c.resources, `${doc.metadata.name}/${String(c.name)}`).toMatchObject({
          requests: { cpu: expect.any(String), memory: expect.any(String) },
        });
      }
      // An init container that runs to completion (registry.yaml's garbage collection) has no probe: the
      // API server refuses one there. Sidecars (restartPolicy Always) and containers need one.
      for (const c of (spec.initContainers ?? []).filter((i) => i.restartPolicy !== 'Always'))
        expect(
          c.readinessProbe ?? c.livenessProbe ?? c.startupProbe,
          `${doc.metadata.name}/${String(c.name)}`,
        ).toBeUndefined();
      for (const c of [...(spec.initContainers ?? []).filter((i) => i.restartPolicy === 'Always'), ...spec.containers])
        expect(
          c.readinessProbe ?? c.livenessProbe ?? c.startupProbe,
          `${doc.metadata.name}/${String(c.name)}`,
        ).toBeDefined();
    }
  });

  it('grants the worker only namespaced rights in the apps namespace, with the verbs the target uses', () => {
    const role = docs.find(({ doc }) => doc.kind === 'Role')!.doc as unknown as {
      metadata: { namespace: string };
      rules: { resources: string[]; verbs: string[] }[];
    };
    expect(role.metadata.namespace).toBe('sidecar-apps');
    expect(docs.some(({ doc }) => doc.kind === 'ClusterRole' || doc.kind === 'ClusterRoleBinding')).toBe(false);
    const verbs = Object.fromEntries(role.rules.flatMap((r) => r.resources.map((res) => [res, [...r.verbs].sort()])));
    expect(verbs).toEqual({
      deployments: ['create', 'delete', 'get', 'list', 'patch', 'watch'],
      services: ['create', 'delete', 'get', 'list', 'patch'],
      secrets: ['create', 'delete', 'get', 'list', 'patch'],
      ingresses: ['create', 'delete', 'get', 'list', 'patch'],
      networkpolicies: ['create', 'delete', 'get', 'list', 'patch'],
      jobs: ['create', 'delete', 'get', 'list', 'patch'],
      pods: ['get', 'list', 'watch'],
      'pods/log': ['get'],
      'pods/exec': ['create', 'get'],
      events: ['list'],
    });
  });
});

describe('the check rejects', () => {
  const deployment = () =>
    structuredClone(
      renderAppManifests({ app: plain, release, settings: testSettings }).find((m) => m.kind === 'Deployment')!,
    ) as unknown as {
      spec: {
        template: { spec: { containers: Record<string, unknown>[]; initContainers: Record<string, unknown>[] } };
      };
    };

  it('restartPolicy Always on a main container', () => {
    const d = deployment();
    d.spec.template.spec.containers[0]!.restartPolicy = 'Always';
    expect(() => checkManifest(d)).toThrow(
      /spec\.containers\[0\]\.restartPolicy: Forbidden: may not be set for non-init containers/,
    );
  });

  it('a probe on a plain init container', () => {
    const d = deployment();
    delete d.spec.template.spec.initContainers[0]!.restartPolicy;
    expect(() => checkManifest(d)).toThrow(/spec\.initContainers\[0\]\.startupProbe: Forbidden/);
  });

  it('an unknown field (a typo the schema alone lets through)', () => {
    const d = deployment();
    d.spec.template.spec.containers[0]!.readinesProbe = { tcpSocket: { port: 8080 } };
    expect(() => checkManifest(d)).toThrow(/unknown field spec\.template\.spec\.containers\[0\]\.readinesProbe/);
  });

  it('a schema violation, and a kind it does not know', () => {
    const d = deployment() as unknown as { spec: { replicas: unknown } };
    d.spec.replicas = 'three';
    expect(() => checkManifest(d)).toThrow(/schema: .*replicas must be integer/);
    expect(() => checkManifest({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toThrow(
      /unsupported kind/,
    );
  });

  it("uses the 1.33 schema: it knows 1.33's lifecycle.stopSignal and its allowed values", () => {
    const d = deployment();
    d.spec.template.spec.containers[0]!.lifecycle = { stopSignal: 'SIGTERM' };
    expect(() => new DeploymentModel(d as never).validate()).not.toThrow();
    d.spec.template.spec.containers[0]!.lifecycle = { stopSignal: 'SIGNOPE' };
    expect(() => new DeploymentModel(d as never).validate()).toThrow(
      /stopSignal must be equal to one of the allowed values/,
    );
  });
});
