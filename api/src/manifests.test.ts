import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectRedis, createStores, FsBlobStore, newTokenSecret, SecretBox, type Stores } from '@sidecar/store';
import { DeployQueues } from '@sidecar/store/queues';
import { secretNameFor, validatePod, type BackendSettings } from '@sidecar/core';
// The same check the Kubernetes target runs before it applies anything (1.33 schema, unknown fields, pod rules).
import { checkManifest } from '@sidecar/k8s-schema';
import { createApp } from './app.js';

// GET /api/v1/apps/:app/manifests against a real Redis (global setup), isolated by a key prefix.
const prefix = `t-${randomUUID().slice(0, 8)}:`;
const redis = connectRedis(inject('redisUrl'));
const stores: Stores = createStores(redis, prefix, new SecretBox([{ id: 't', key: randomBytes(32) }]));
const queues = new DeployQueues(redis, prefix);
const blobDir = mkdtempSync(join(tmpdir(), 'sidecar-manifests-test-'));
const admin = newTokenSecret();
const app = createApp({
  stores,
  queues,
  blobs: new FsBlobStore(blobDir),
  maxBundleBytes: 64 * 1024,
  urlFor: (n) => `http://${n}.localhost:8080/`,
});
const auth = { authorization: `Bearer ${admin}` };
const digest = `sha256:${'e3'.repeat(32)}`;
/** What a worker on the Kubernetes target publishes: the API must render with exactly this. */
const backend: BackendSettings = {
  target: 'kubernetes',
  runtimeImage: `registry.example.org/sidecar/runtime-node@sha256:${'f0'.repeat(32)}`,
  runtimeImageDigest: `sha256:${'f1'.repeat(32)}`,
  sidecarImages: {
    logs: `registry.example.org/sidecar/log-shipper@sha256:${'c3'.repeat(32)}`,
    tls: `registry.example.org/sidecar/tls-terminator@sha256:${'a1'.repeat(32)}`,
    procinfo: `registry.example.org/sidecar/procinfo@sha256:${'b2'.repeat(32)}`,
  },
  template: { probePeriodSeconds: 3, terminationGracePeriodSeconds: 45 },
  kubernetes: {
    namespace: 'team-apps',
    platformId: 'prod',
    ingressClassName: 'traefik',
    hostPattern: '{app}.apps.example.org',
    registry: 'registry.example.org',
    progressDeadlineSeconds: 321,
  },
};
/** The platform sidecars' images as a worker publishes them (the log shipper is on by default). */
const images = backend.sidecarImages;
const publish = () => stores.platform.publishBackend(backend);

async function deployed(name: string, body: Record<string, unknown> = {}): Promise<void> {
  await request(app)
    .post('/api/v1/apps')
    .set(auth)
    .send({ name, ...body })
    .expect(201);
  const current = await stores.apps.get(name);
  const release = await stores.releases.create({
    app: name,
    image: `registry.example.org/sidecar-app/${name}:d_1`,
    imageDigest: digest,
    runtimeImage: 'registry.example.org/sidecar/runtime-node@sha256:' + 'f0'.repeat(32),
    env: current.env,
    manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' },
    createdAt: new Date().toISOString(),
    deployId: 'd_1',
  });
  await stores.apps.update(name, (a) => ({ ...a, currentRelease: release.version, status: 'running' }));
}

beforeAll(async () => {
  await stores.tokens.ensureAdmin(admin);
  await publish();
  await deployed('plain');
  await deployed('shop', { replicas: 3, env: { GREETING: 'hi' }, secrets: { DB_PASSWORD: 'pa55word-in-clear' } });
});
afterAll(async () => {
  await queues.close();
  await redis.quit();
  rmSync(blobDir, { recursive: true, force: true });
});

const manifests = (name: string, query = '') => request(app).get(`/api/v1/apps/${name}/manifests${query}`).set(auth);

describe('GET /api/v1/apps/:app/manifests?target=kubernetes', () => {
  it('returns the NetworkPolicies, Deployment, Service and Ingress for a plain app, each passing the Kubernetes 1.33 schema and the pod rules', async () => {
    const res = await manifests('plain', '?target=kubernetes').expect(200);
    expect(res.body).toMatchObject({ target: 'kubernetes', release: 1 });
    expect(res.body.items.map((m: { kind: string }) => m.kind)).toEqual([
      'NetworkPolicy',
      'NetworkPolicy',
      'Deployment',
      'Service',
      'Ingress',
    ]);
    for (const m of res.body.items) expect(() => checkManifest(m)).not.toThrow();
    const [deny, policy, deployment, , ingress] = res.body.items;
    // The namespace's default-deny and the app's own policy, as the worker applies them.
    expect(deny.metadata).toMatchObject({ name: 'sidecar.prod.default-deny', namespace: 'team-apps' });
    expect(policy.spec.podSelector.matchLabels).toMatchObject({ 'sidecar.paas/app': 'plain' });
    expect(deployment.metadata).toMatchObject({
      name: 'plain',
      namespace: 'team-apps',
      labels: { 'sidecar.paas/platform': 'prod' },
    });
    const [logs, logic] = deployment.spec.template.spec.initContainers;
    expect(logs).toMatchObject({ name: 'logs', restartPolicy: 'Always', image: images.logs }); // on by default, declared first
    expect(logic).toMatchObject({
      name: 'app',
      restartPolicy: 'Always',
      image: `registry.example.org/sidecar-app/plain@${digest}`,
    });
    expect(ingress.spec).toMatchObject({ ingressClassName: 'traefik', rules: [{ host: 'plain.apps.example.org' }] });
    // Exactly the worker's settings: its progress deadline and pod template settings, not defaults.
    expect(deployment.spec.progressDeadlineSeconds).toBe(321);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBe(45);
  });

  it('previews with documented example settings while the worker runs on the Docker target', async () => {
    await stores.platform.publishBackend({ ...backend, target: 'docker', kubernetes: undefined });
    try {
      const res = await manifests('plain', '?target=kubernetes').expect(200);
      const [, , deployment, , ingress] = res.body.items;
      expect(deployment.metadata.namespace).toBe('sidecar-apps');
      expect(ingress.spec).toMatchObject({ ingressClassName: 'nginx', rules: [{ host: 'plain.apps.example.com' }] });
    } finally {
      await publish();
    }
  });

  it('returns an app with replicas, env and secrets, passing the same check, with secret values masked', async () => {
    const res = await manifests('shop').expect(200); // kubernetes is the default
    expect(res.body.items.map((m: { kind: string }) => m.kind)).toEqual([
      'NetworkPolicy',
      'NetworkPolicy',
      'Secret',
      'Deployment',
      'Service',
      'Ingress',
    ]);
    for (const m of res.body.items) expect(() => checkManifest(m)).not.toThrow();
    expect(res.text).not.toContain('pa55word-in-clear');
    const [, , secret, deployment] = res.body.items;
    expect(secret.stringData).toEqual({ DB_PASSWORD: '******' });
    // Named by the content (the name the cluster has), the value masked.
    expect(secret.metadata.name).toBe(secretNameFor('shop', { DB_PASSWORD: 'pa55word-in-clear' }));
    expect(secret.metadata.annotations).toEqual({ 'sidecar.paas/values-masked': 'true' });
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.template.spec.containers[0].env).toEqual(
      expect.arrayContaining([
        { name: 'GREETING', value: 'hi' },
        {
          name: 'DB_PASSWORD',
          valueFrom: {
            secretKeyRef: { name: secretNameFor('shop', { DB_PASSWORD: 'pa55word-in-clear' }), key: 'DB_PASSWORD' },
          },
        },
      ]),
    );
  });
});

describe('GET /api/v1/apps/:app/manifests?target=kubernetes: platform sidecars', () => {
  it('503 not_ready while no worker has published the sidecar images', async () => {
    await redis.del(stores.keys.backendSettings);
    await deployed('early', { sidecars: { procinfo: true } });
    const res = await manifests('early');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      code: 'not_ready',
      detail: expect.stringMatching(/procinfo are enabled but no sidecar images are known/),
    });
  });

  it('renders tls and procinfo from the same template, by the published digests, with the sidecar Secret masked, passing the check', async () => {
    await publish();
    await deployed('secure', { sidecars: { tls: { enabled: true }, procinfo: true } });
    const res = await manifests('secure').expect(200);
    expect(
      res.body.items.map((m: { kind: string; metadata: { name: string } }) => `${m.kind}/${m.metadata.name}`),
    ).toEqual([
      'NetworkPolicy/sidecar.prod.default-deny',
      'NetworkPolicy/secure',
      expect.stringMatching(/^Secret\/secure-sidecars-[a-f0-9]{10}$/),
      'Deployment/secure',
      'Service/secure',
      'Ingress/secure',
    ]);
    for (const m of res.body.items) expect(() => checkManifest(m)).not.toThrow();
    const [, , secret, deployment, service] = res.body.items;
    expect(secret).toMatchObject({
      stringData: { 'tls.crt': '******', 'tls.key': '******' },
      metadata: { annotations: { 'sidecar.paas/values-masked': 'true' } },
    });
    expect(res.text).not.toMatch(/BEGIN (CERTIFICATE|PRIVATE KEY)/);
    const pod = deployment.spec.template.spec;
    expect(pod.shareProcessNamespace).toBe(true);
    expect(pod.initContainers.map((c: { name: string; image: string }) => [c.name, c.image])).toEqual([
      ['logs', images.logs],
      ['app', `registry.example.org/sidecar-app/secure@${digest}`],
      ['tls', images.tls],
      ['procinfo', images.procinfo],
    ]);
    expect(service.spec.ports.map((p: { name: string; port: number }) => [p.name, p.port])).toEqual([
      ['http', 80],
      ['https', 8443],
    ]);
  });
});

describe('GET /api/v1/apps/:app/manifests?target=docker', () => {
  it('returns the pods the Docker target runs, one per replica, valid for the pod runner, secrets masked', async () => {
    await publish();
    const res = await manifests('shop', '?target=docker').expect(200);
    expect(res.body.items).toHaveLength(3);
    for (const pod of res.body.items) {
      expect(() => validatePod(pod)).not.toThrow();
      expect(() => checkManifest(pod)).not.toThrow();
    }
    expect(res.body.items[0].spec.containers[0].env).toContainEqual({ name: 'DB_PASSWORD', value: '******' });
    expect(res.text).not.toContain('pa55word-in-clear');
    // The log shipper is on by default: declared first, by the published image.
    expect(
      res.body.items[0].spec.initContainers.map((c: { name: string; image: string }) => [c.name, c.image])[0],
    ).toEqual(['logs', images.logs]);
  });

  it('includes the platform sidecars the app enables, in the fixed order, the TLS material only as a secret volume', async () => {
    await publish();
    await deployed('guarded', { sidecars: { tls: { enabled: true }, procinfo: true } });
    const res = await manifests('guarded', '?target=docker').expect(200);
    const [pod] = res.body.items;
    expect(() => validatePod(pod)).not.toThrow();
    expect(pod.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['logs', 'app', 'tls', 'procinfo']);
    expect(pod.spec.shareProcessNamespace).toBe(true);
    const tls = pod.spec.initContainers.find((c: { name: string }) => c.name === 'tls');
    expect(tls.env).toContainEqual({ name: 'SIDECAR_TLS_KEY_FILE', value: '/run/secrets/sidecar-tls/tls.key' });
    expect(pod.spec.volumes).toContainEqual({
      name: 'tls-material',
      secret: { secretName: 'guarded-sidecar-tls', defaultMode: 0o444 },
    });
    expect(res.text).not.toMatch(/BEGIN (CERTIFICATE|PRIVATE KEY)/);
  });
});

describe('GET /api/v1/apps/:app/manifests: errors', () => {
  const expectProblem = (res: request.Response, status: number, code: string) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ status, code });
  };

  it('409 no_release for an app never deployed', async () => {
    await request(app).post('/api/v1/apps').set(auth).send({ name: 'fresh' }).expect(201);
    expectProblem(await manifests('fresh'), 409, 'no_release');
  });
  it('400 for an unknown target, 404 for an unknown app or release, 401 without a token', async () => {
    expectProblem(await manifests('plain', '?target=nomad'), 400, 'invalid_request');
    expectProblem(await manifests('nope'), 404, 'app_not_found');
    expectProblem(await manifests('plain', '?release=9'), 404, 'release_not_found');
    expectProblem(await request(app).get('/api/v1/apps/plain/manifests'), 401, 'unauthorized');
  });
});
