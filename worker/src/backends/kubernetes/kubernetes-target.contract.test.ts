import { PassThrough } from 'node:stream';
import { isDomainError, secretNameFor, sidecarSecretNameFor, type DomainError } from '@sidecar/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkManifest } from '@sidecar/k8s-schema';
import { KubernetesTarget } from './kubernetes-target.js';
import {
  FakeApiServer,
  type Route,
  sendJson,
  sendWatch,
  statusBody,
  testApp,
  testRelease,
  testSettings,
} from './test-support.js';

/**
 * Contract tests at the HTTP boundary of @kubernetes/client-node: the KubernetesTarget
 * talks to a fake API server that records each request and answers as an API server
 * would. They pin the exact requests (method, path, query, content type, body) and the
 * target's reaction to the answers. No cluster is involved; see kubernetes-target.cluster.test.ts.
 */
const NS = '/api/v1/namespaces/apps';
const APPS = '/apis/apps/v1/namespaces/apps';
const DEPLOYMENT = `${APPS}/deployments/shop`;
const POLICIES = '/apis/networking.k8s.io/v1/namespaces/apps/networkpolicies';
/** The namespace's default-deny policy (the platform's) and the app's own: applied before anything else. */
const DENY = `${POLICIES}/sidecar.contract.default-deny`;
const POLICY = `${POLICIES}/shop`;
const SELECTOR = 'sidecar.paas/managed=true,sidecar.paas/platform=contract,sidecar.paas/app=shop';
const OURS = { 'sidecar.paas/managed': 'true', 'sidecar.paas/platform': 'contract', 'sidecar.paas/app': 'shop' };

let api: FakeApiServer;
let target: KubernetesTarget;
const app = testApp('shop', {
  replicas: 2,
  secrets: { DB_PASSWORD: 's3cret' },
  env: { GREETING: 'hi' },
  currentRelease: 1,
});
const release = testRelease('shop', 2);
/** The app's Secret, named by its content. */
const SECRET = `${NS}/secrets/${secretNameFor('shop', app.secrets)}`;
const rollout = (over: { signal?: AbortSignal } = {}) => {
  const lines: string[] = [];
  const done = target.apply({
    app,
    release,
    signal: over.signal ?? new AbortController().signal,
    log: (l) => lines.push(l),
  });
  return { done, lines };
};
const caught = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as DomainError,
  );

/** A Deployment status as the controller writes it. */
const deploymentWith = (status: Record<string, unknown>, generation = 1) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'shop', generation, resourceVersion: '77', labels: OURS },
  spec: { replicas: 2 },
  status,
});
/** The applied Deployment as stored, with the status a controller would have written once done. */
const rolledOut: Route = (req, res) => {
  const stored = api.objects.get(req.path);
  if (stored) sendJson(res, 200, { ...stored, status: { ...DONE, observedGeneration: stored.metadata.generation } });
  else sendJson(res, 404, statusBody(404, 'NotFound', 'deployments.apps "shop" not found'));
};
const DONE = { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2, readyReplicas: 2 };

beforeEach(async () => {
  api = new FakeApiServer();
  await api.start();
  target = new KubernetesTarget({ kubeConfig: api.kubeConfig(), settings: testSettings, rolloutTimeoutMs: 10_000 });
});
afterEach(async () => {
  await target.close();
  await api.close();
});

describe('apply: server-side apply of the rendered objects', () => {
  it('sends one apply PATCH per object, the Deployment last: apply-patch+yaml, fieldManager sidecar-paas, force, the rendered body', async () => {
    api.on('GET', `${APPS}/deployments`, (_req, res) =>
      sendWatch(res, [{ type: 'MODIFIED', object: deploymentWith(DONE) }]),
    );
    const { done } = rollout();
    await done;
    const patches = api.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((p) => p.path)).toEqual([
      DENY,
      POLICY,
      SECRET,
      `${NS}/services/shop`,
      '/apis/networking.k8s.io/v1/namespaces/apps/ingresses/shop',
      DEPLOYMENT,
    ]);
    const rendered = target.manifests({ app, release });
    const order = ['NetworkPolicy', 'Secret', 'Service', 'Ingress', 'Deployment'];
    rendered.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
    patches.forEach((p, i) => {
      expect(p.contentType).toBe('application/apply-patch+yaml');
      expect(p.query).toEqual({ fieldManager: 'sidecar-paas', force: 'true' });
      expect(p.body).toEqual(JSON.parse(JSON.stringify(rendered[i])));
    });
    // The Secret goes with its value to the cluster; the Deployment only refers to it.
    expect(patches[2]!.body).toMatchObject({ kind: 'Secret', stringData: { DB_PASSWORD: 's3cret' } });
    expect(JSON.stringify(patches[5]!.body)).not.toContain('s3cret');
    // Each apply is preceded by a read that checks the object is not someone else's.
    expect(api.sent('GET', SECRET)).toHaveLength(1);
  });

  it('applying the same release twice sends identical requests and changes nothing (generation stays 1)', async () => {
    api.on('GET', DEPLOYMENT, rolledOut);
    await rollout().done;
    const first = api.requests.filter((r) => r.method === 'PATCH').map((r) => JSON.stringify(r));
    api.requests.length = 0;
    await rollout().done;
    const second = api.requests.filter((r) => r.method === 'PATCH').map((r) => JSON.stringify(r));
    expect(second).toEqual(first);
    expect(api.objects.get(DEPLOYMENT)!.metadata.generation).toBe(1);
  });

  it("refuses to take over an object with the app's name that the platform did not create (and sends no PATCH)", async () => {
    api.put(DEPLOYMENT, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'shop', labels: { team: 'payments' } },
    });
    const e = await caught(rollout().done);
    expect(e.code).toBe('deploy_failed');
    expect(e.message).toMatch(/deployments\.apps apps\/shop exists but is not managed by this platform/);
    expect(api.sent('PATCH', DEPLOYMENT)).toHaveLength(0);
  });

  it('removes a Secret left from earlier releases once the app has no secrets (by label, exactly the listed uid)', async () => {
    const old = api.put(`${NS}/secrets/shop-secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'shop-secrets',
        labels: { 'sidecar.paas/managed': 'true', 'sidecar.paas/platform': 'contract', 'sidecar.paas/app': 'shop' },
      },
    });
    api.on('GET', DEPLOYMENT, rolledOut);
    await target.apply({ app: { ...app, secrets: {} }, release, signal: new AbortController().signal, log: () => {} });
    expect(api.sent('GET', `${NS}/secrets`)[0]!.query).toEqual({ labelSelector: SELECTOR });
    const del = api.sent('DELETE', `${NS}/secrets/shop-secrets`);
    expect(del).toHaveLength(1);
    expect(del[0]!.body).toMatchObject({ preconditions: { uid: old.metadata.uid } });
    expect(del[0]!.query.propagationPolicy).toBe('Background');
  });
});

describe('apply: NetworkPolicies isolate the app before anything of it runs', () => {
  const applied = async (over: Partial<typeof app> = {}) => {
    api.on('GET', DEPLOYMENT, rolledOut);
    await target.apply({ app: { ...app, ...over }, release, signal: new AbortController().signal, log: () => {} });
    return api.requests.filter((r) => r.method === 'PATCH');
  };

  it("applies the namespace's default-deny, then the app's policy, first: server-side apply of the rendered bodies, each passing the 1.33 schema", async () => {
    const patches = await applied();
    expect(patches.slice(0, 2).map((p) => p.path)).toEqual([DENY, POLICY]);
    const rendered = target.manifests({ app, release }).filter((m) => m.kind === 'NetworkPolicy');
    for (const [i, p] of patches.slice(0, 2).entries()) {
      expect(p.contentType).toBe('application/apply-patch+yaml');
      expect(p.query).toEqual({ fieldManager: 'sidecar-paas', force: 'true' });
      expect(p.body).toEqual(JSON.parse(JSON.stringify(rendered[i])));
      expect(() => checkManifest(p.body)).not.toThrow();
    }
    expect(patches[0]!.body).toMatchObject({
      metadata: { name: 'sidecar.contract.default-deny', namespace: 'apps' },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    expect(patches[1]!.body).toMatchObject({
      metadata: { name: 'shop', labels: OURS },
      spec: {
        podSelector: { matchLabels: OURS },
        ingress: [
          { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }] },
        ],
      },
    });
    // Each is read first: an object of that name the platform did not create is never taken over.
    expect(api.sent('GET', DENY)).toHaveLength(1);
    expect(api.sent('GET', POLICY)).toHaveLength(1);
  });

  it('an app with `network: {egress: "none"}` gets a policy that lets out nothing, not even DNS', async () => {
    const [, policy] = await applied({ network: { egress: 'none' } });
    expect(policy!.body).toMatchObject({ spec: { policyTypes: ['Ingress', 'Egress'], egress: [] } });
  });

  it('renders with the settings: the ingress namespace and pods, the DNS pods, the private ranges', async () => {
    target = new KubernetesTarget({
      kubeConfig: api.kubeConfig(),
      rolloutTimeoutMs: 10_000,
      settings: {
        ...testSettings,
        networkPolicy: {
          ingressFrom: { namespaceSelector: { edge: 'true' }, podSelector: { 'app.kubernetes.io/name': 'traefik' } },
          dns: { namespaceSelector: { dns: 'here' }, podSelector: { app: 'coredns' } },
          privateCidrs: ['10.0.0.0/8', 'fd00::/8'],
        },
      },
    });
    const [, policy] = await applied();
    expect(policy!.body).toMatchObject({
      spec: {
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: { edge: 'true' } },
                podSelector: { matchLabels: { 'app.kubernetes.io/name': 'traefik' } },
              },
            ],
          },
        ],
        egress: [
          {
            to: [
              { namespaceSelector: { matchLabels: { dns: 'here' } }, podSelector: { matchLabels: { app: 'coredns' } } },
            ],
          },
          {
            to: [
              { ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } },
              { ipBlock: { cidr: '::/0', except: ['fd00::/8'] } },
            ],
          },
        ],
      },
    });
  });

  it('a NetworkPolicy of that name the platform did not create stops the deploy before anything is applied', async () => {
    api.put(DENY, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'sidecar.contract.default-deny', labels: { team: 'net' } },
    });
    const e = await caught(rollout().done);
    expect(e.code).toBe('deploy_failed');
    expect(e.message).toMatch(
      /networkpolicies\.networking\.k8s\.io apps\/sidecar\.contract\.default-deny exists but is not managed/,
    );
    expect(api.requests.filter((r) => r.method === 'PATCH')).toEqual([]);
  });

  it('403 on networkpolicies (a Role without them) fails at once, naming rbac.yaml, before any pod exists', async () => {
    api.on('PATCH', POLICY, (_req, res) =>
      sendJson(res, 403, statusBody(403, 'Forbidden', 'networkpolicies.networking.k8s.io "shop" is forbidden')),
    );
    const e = await caught(rollout().done);
    expect(e).toMatchObject({ code: 'forbidden', retryable: false });
    expect(e.message).toMatch(/deploy\/kubernetes\/rbac\.yaml/);
    expect(api.sent('PATCH', DEPLOYMENT)).toHaveLength(0);
    expect(api.sent('PATCH', SECRET)).toHaveLength(0);
  });
});

describe('apply: answers from the API server', () => {
  const failPatch = (code: number, reason: string) =>
    api.on('PATCH', DEPLOYMENT, (_req, res) =>
      sendJson(res, code, statusBody(code, reason, `deployments.apps "shop" is ${reason.toLowerCase()}`)),
    );

  it('409 Conflict: a retryable failure', async () => {
    failPatch(409, 'Conflict');
    const e = await caught(rollout().done);
    expect(isDomainError(e)).toBe(true);
    expect(e).toMatchObject({ code: 'deploy_failed', retryable: true });
    expect(e.message).toMatch(/applying deployments\.apps shop: .*conflict/);
  });

  it('403 Forbidden: not retried, names the missing permission and where RBAC is defined', async () => {
    failPatch(403, 'Forbidden');
    const e = await caught(rollout().done);
    expect(e).toMatchObject({ code: 'forbidden', retryable: false });
    expect(e.message).toMatch(/deploy\/kubernetes\/rbac\.yaml/);
  });

  it('404 Not Found on apply (the namespace is missing): not retried', async () => {
    failPatch(404, 'NotFound');
    const e = await caught(rollout().done);
    expect(e).toMatchObject({ code: 'not_found', retryable: false });
  });

  it('422 Invalid: the object was rejected, not retried', async () => {
    failPatch(422, 'Invalid');
    expect(await caught(rollout().done)).toMatchObject({ code: 'invalid_manifest', retryable: false });
  });
});

describe('apply: the rollout watch (as kubectl rollout status decides)', () => {
  it("watches the Deployment by name from the resourceVersion it read, logging kubectl's progress lines until done", async () => {
    api.on('GET', DEPLOYMENT, (_req, res) => sendJson(res, 200, deploymentWith({ observedGeneration: 0 })));
    api.on('GET', `${APPS}/deployments`, (_req, res) =>
      sendWatch(res, [
        {
          type: 'MODIFIED',
          object: deploymentWith({ observedGeneration: 1, replicas: 3, updatedReplicas: 1, availableReplicas: 2 }),
        },
        {
          type: 'MODIFIED',
          object: deploymentWith({ observedGeneration: 1, replicas: 3, updatedReplicas: 2, availableReplicas: 2 }),
        },
        {
          type: 'MODIFIED',
          object: deploymentWith({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 1 }),
        },
        { type: 'MODIFIED', object: deploymentWith(DONE) },
      ]),
    );
    const { done, lines } = rollout();
    await done;
    const [watch] = api.sent('GET', `${APPS}/deployments`);
    expect(watch!.query).toMatchObject({
      watch: 'true',
      fieldSelector: 'metadata.name=shop',
      resourceVersion: '77',
      allowWatchBookmarks: 'true',
    });
    expect(lines.filter((l) => l.startsWith('rollout:'))).toEqual([
      'rollout: waiting for deployment spec update to be observed',
      'rollout: 1 out of 2 new replicas have been updated',
      'rollout: 1 old replicas are pending termination',
      'rollout: 1 of 2 updated replicas are available',
      'rollout: deployment "shop" successfully rolled out',
    ]);
  });

  it('ProgressDeadlineExceeded fails the rollout as not ready, naming the stuck container, the old release keeps serving', async () => {
    api.on('GET', `${APPS}/deployments`, (_req, res) =>
      sendWatch(res, [
        {
          type: 'MODIFIED',
          object: deploymentWith({
            observedGeneration: 1,
            replicas: 3,
            updatedReplicas: 1,
            conditions: [
              {
                type: 'Progressing',
                status: 'False',
                reason: 'ProgressDeadlineExceeded',
                message: 'ReplicaSet "shop-5d4" has timed out progressing.',
              },
            ],
          }),
        },
      ]),
    );
    api.on('GET', `${NS}/pods`, (_req, res) =>
      sendJson(res, 200, {
        metadata: { resourceVersion: '9' },
        items: [
          {
            metadata: { name: 'shop-5d4-abcde', labels: { 'sidecar.paas/release': '2' } },
            spec: { initContainers: [{ name: 'app', restartPolicy: 'Always' }] },
            status: {
              phase: 'Pending',
              initContainerStatuses: [
                {
                  name: 'app',
                  image: 'x',
                  ready: false,
                  started: false,
                  restartCount: 0,
                  state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } },
                },
              ],
              containerStatuses: [
                {
                  name: 'runtime',
                  image: 'y',
                  ready: false,
                  restartCount: 0,
                  state: { waiting: { reason: 'PodInitializing' } },
                },
              ],
            },
          },
        ],
      }),
    );
    api.on('GET', `${NS}/events`, (_req, res) => sendJson(res, 200, { items: [] }));
    const e = await caught(rollout().done);
    expect(e).toMatchObject({ code: 'not_ready', retryable: false });
    expect(e.message).toMatch(/deployment "shop" exceeded its progress deadline/);
    expect(e.message).toMatch(/pod shop-5d4-abcde: app waiting \(ImagePullBackOff\)/);
    expect(e.message).toMatch(/v1 keeps serving/);
  });

  describe('a failed rollout is rolled back: the Deployment as applied before is applied again', () => {
    const PDE = {
      type: 'Progressing',
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
      message: 'ReplicaSet "shop-5d4" has timed out progressing.',
    };
    /** The controller's answers: the v2 template never progresses (stuck, or past its deadline); any other template rolls out. */
    const deploymentController =
      (v2: 'deadline' | 'stuck'): Route =>
      (req, res) => {
        const stored = api.objects.get(req.path);
        if (!stored) return sendJson(res, 404, statusBody(404, 'NotFound', 'deployments.apps "shop" not found'));
        const observedGeneration = stored.metadata.generation;
        const failing = stored.metadata.annotations?.['sidecar.paas/release'] === '2';
        const stuck = {
          observedGeneration,
          replicas: 3,
          updatedReplicas: 1,
          availableReplicas: 2,
          ...(v2 === 'deadline' ? { conditions: [PDE] } : {}),
        };
        sendJson(res, 200, { ...stored, status: failing ? stuck : { ...DONE, observedGeneration } });
      };
    const failedRollout = async (over: { rolloutTimeoutMs?: number } = {}) => {
      if (over.rolloutTimeoutMs)
        target = new KubernetesTarget({
          kubeConfig: api.kubeConfig(),
          settings: testSettings,
          rolloutTimeoutMs: over.rolloutTimeoutMs,
        });
      api.on('GET', `${NS}/pods`, (_req, res) => sendJson(res, 200, { metadata: {}, items: [] }));
      api.on('GET', `${NS}/events`, (_req, res) => sendJson(res, 200, { items: [] }));
      await target.apply({
        app: { ...app, currentRelease: null },
        release: testRelease('shop', 1),
        signal: new AbortController().signal,
        log: () => {},
      });
      const [v1] = api.sent('PATCH', DEPLOYMENT);
      api.requests.length = 0;
      const { done, lines } = rollout();
      return { v1: v1!, error: await caught(done), lines };
    };

    it('on ProgressDeadlineExceeded: the v2 apply, then the exact v1 apply again (same body, field manager, force), watched until done', async () => {
      api.on('GET', DEPLOYMENT, deploymentController('deadline'));
      const { v1, error, lines } = await failedRollout();
      const patches = api.sent('PATCH', DEPLOYMENT);
      expect(patches).toHaveLength(2);
      expect(
        (patches[0]!.body as { metadata: { annotations: Record<string, string> } }).metadata.annotations[
          'sidecar.paas/release'
        ],
      ).toBe('2');
      expect(patches[1]).toEqual(v1);
      expect(patches[1]).toMatchObject({
        contentType: 'application/apply-patch+yaml',
        query: { fieldManager: 'sidecar-paas', force: 'true' },
      });
      // The rollback's rollout was read after it was applied (and found done).
      const afterRollback = api.requests.slice(api.requests.indexOf(patches[1]!));
      expect(afterRollback.some((r) => r.method === 'GET' && r.path === DEPLOYMENT)).toBe(true);
      expect(api.objects.get(DEPLOYMENT)!.metadata.annotations!['sidecar.paas/release']).toBe('1');
      expect(error).toMatchObject({ code: 'not_ready', retryable: false });
      expect(error.message).toMatch(/^v2 did not become ready: deployment "shop" exceeded its progress deadline/);
      expect(error.message).toMatch(/; deployment shop rolled back to v1; v1 keeps serving$/);
      expect(lines).toContain('rollout failed: rolling deployment shop back to v1');
    });

    it("on the target's own readiness deadline: the same rollback", async () => {
      api.on('GET', DEPLOYMENT, deploymentController('stuck'));
      api.on('GET', `${APPS}/deployments`, (_req, res) => sendWatch(res, [], { keepOpen: true }));
      const { v1, error } = await failedRollout({ rolloutTimeoutMs: 1500 });
      const patches = api.sent('PATCH', DEPLOYMENT);
      expect(patches).toHaveLength(2);
      expect(patches[1]).toEqual(v1);
      expect(error).toMatchObject({ code: 'not_ready' });
      expect(error.message).toMatch(/^v2 did not become ready: not rolled out within 1500 ms/);
      expect(error.message).toMatch(/deployment shop rolled back to v1; v1 keeps serving$/);
    });

    it('on cancellation of the deploy: the same rollback, then cancelled', async () => {
      const controller = new AbortController();
      api.on('GET', DEPLOYMENT, deploymentController('stuck'));
      api.on('GET', `${APPS}/deployments`, (_req, res) => {
        sendWatch(res, [], { keepOpen: true });
        controller.abort();
      });
      await target.apply({
        app: { ...app, currentRelease: null },
        release: testRelease('shop', 1),
        signal: new AbortController().signal,
        log: () => {},
      });
      const [v1] = api.sent('PATCH', DEPLOYMENT);
      api.requests.length = 0;
      const error = await caught(rollout({ signal: controller.signal }).done);
      const patches = api.sent('PATCH', DEPLOYMENT);
      expect(patches).toHaveLength(2);
      expect(patches[1]).toEqual(v1);
      expect(error).toMatchObject({ code: 'cancelled' });
      expect(error.message).toMatch(/^rollout of v2 cancelled; deployment shop rolled back to v1; v1 keeps serving$/);
    });

    it('a stale ProgressDeadlineExceeded the controller keeps after the rollback does not fail it: the replica counts decide', async () => {
      // A real controller may keep the failed rollout's condition once the old template is back (no count moves);
      // its lastUpdateTime is the API server's clock, here ahead of the worker's.
      const stale = { ...PDE, lastUpdateTime: new Date(Date.now() + 60_000).toISOString() };
      let failed = false;
      api.on('GET', DEPLOYMENT, (req, res) => {
        const stored = api.objects.get(req.path);
        if (!stored) return sendJson(res, 404, statusBody(404, 'NotFound', 'deployments.apps "shop" not found'));
        const observedGeneration = stored.metadata.generation;
        if (stored.metadata.annotations?.['sidecar.paas/release'] === '2') {
          failed = true;
          return sendJson(res, 200, {
            ...stored,
            status: { observedGeneration, replicas: 3, updatedReplicas: 1, availableReplicas: 2, conditions: [stale] },
          });
        }
        sendJson(res, 200, {
          ...stored,
          status: { ...DONE, observedGeneration, ...(failed ? { conditions: [stale] } : {}) },
        });
      });
      const { v1, error } = await failedRollout();
      expect(api.sent('PATCH', DEPLOYMENT)[1]).toEqual(v1);
      expect(error.message).toMatch(/^v2 did not become ready: deployment "shop" exceeded its progress deadline/);
      expect(error.message).toMatch(/; deployment shop rolled back to v1; v1 keeps serving$/);
    });

    it('a cancellation that arrives while the Deployment is applied still rolls back: the Deployment is applied last', async () => {
      const controller = new AbortController();
      api.on('GET', DEPLOYMENT, deploymentController('stuck'));
      await target.apply({
        app: { ...app, currentRelease: null },
        release: testRelease('shop', 1),
        signal: new AbortController().signal,
        log: () => {},
      });
      const [v1] = api.sent('PATCH', DEPLOYMENT);
      api.requests.length = 0;
      api.onWrite((path, obj) => {
        if (path === DEPLOYMENT && obj?.metadata.annotations?.['sidecar.paas/release'] === '2') controller.abort();
      });
      const error = await caught(rollout({ signal: controller.signal }).done);
      const patches = api.requests.filter((r) => r.method === 'PATCH');
      expect(patches.map((p) => p.path)).toEqual([
        DENY,
        POLICY,
        SECRET,
        `${NS}/services/shop`,
        '/apis/networking.k8s.io/v1/namespaces/apps/ingresses/shop',
        DEPLOYMENT,
        DEPLOYMENT,
      ]);
      expect(patches[6]).toEqual(v1);
      expect(error).toMatchObject({ code: 'cancelled' });
      expect(error.message).toMatch(/^rollout of v2 cancelled; deployment shop rolled back to v1; v1 keeps serving$/);
    });

    it('an object that cannot be applied stops the deploy before the Deployment is touched', async () => {
      api.on('GET', DEPLOYMENT, rolledOut);
      api.on('PATCH', '/apis/networking.k8s.io/v1/namespaces/apps/ingresses/shop', (_req, res) =>
        sendJson(res, 422, statusBody(422, 'Invalid', 'ingresses.networking.k8s.io "shop" is invalid')),
      );
      expect(await caught(rollout().done)).toMatchObject({ code: 'invalid_manifest' });
      expect(api.sent('PATCH', DEPLOYMENT)).toHaveLength(0);
    });

    it("on cancellation the rollback's rollout is awaited only briefly (cancelRollbackWaitMs), then the deploy ends cancelled", async () => {
      target = new KubernetesTarget({
        kubeConfig: api.kubeConfig(),
        settings: testSettings,
        rolloutTimeoutMs: 10_000,
        cancelRollbackWaitMs: 300,
      });
      const controller = new AbortController();
      // The first apply (generation 1) rolls out; neither v2 nor the rollback to v1 (generation 3) finishes.
      api.on('GET', DEPLOYMENT, (req, res) => {
        const stored = api.objects.get(req.path);
        if (!stored) return sendJson(res, 404, statusBody(404, 'NotFound', 'deployments.apps "shop" not found'));
        const observedGeneration = stored.metadata.generation;
        sendJson(res, 200, {
          ...stored,
          status:
            observedGeneration === 1
              ? { ...DONE, observedGeneration }
              : { observedGeneration, replicas: 3, updatedReplicas: 1, availableReplicas: 2 },
        });
      });
      await target.apply({
        app: { ...app, currentRelease: null },
        release: testRelease('shop', 1),
        signal: new AbortController().signal,
        log: () => {},
      });
      api.onWrite((path, obj) => {
        if (path === DEPLOYMENT && obj?.metadata.annotations?.['sidecar.paas/release'] === '2') controller.abort();
      });
      const started = Date.now();
      const error = await caught(rollout({ signal: controller.signal }).done);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(api.sent('PATCH', DEPLOYMENT)).toHaveLength(3);
      expect(error).toMatchObject({ code: 'cancelled' });
      expect(error.message).toBe(
        'rollout of v2 cancelled; deployment shop is rolling back to v1 (not done within 300 ms; the cluster completes it); v1 keeps serving',
      );
    });

    it.each([
      ['cancelled', 'stuck'],
      ['failed', 'deadline'],
    ] as const)(
      'a %s first deploy deletes its Deployment (exactly the object applied): nothing unrecorded keeps rolling',
      async (how, v2) => {
        const controller = new AbortController();
        api.on('GET', DEPLOYMENT, deploymentController(v2));
        api.on('GET', `${NS}/pods`, (_req, res) => sendJson(res, 200, { metadata: {}, items: [] }));
        api.on('GET', `${NS}/events`, (_req, res) => sendJson(res, 200, { items: [] }));
        if (how === 'cancelled') api.onWrite((path, obj) => obj && path === DEPLOYMENT && controller.abort());
        const first = target.apply({
          app: { ...app, currentRelease: null },
          release,
          signal: controller.signal,
          log: () => {},
        });
        const error = await caught(first);
        const [patch] = api.sent('PATCH', DEPLOYMENT);
        const deletes = api.sent('DELETE', DEPLOYMENT);
        expect(deletes).toHaveLength(1);
        expect(deletes[0]!.body).toMatchObject({ preconditions: { uid: expect.any(String) } });
        expect(api.requests.indexOf(deletes[0]!)).toBeGreaterThan(api.requests.indexOf(patch!));
        expect(api.objects.has(DEPLOYMENT)).toBe(false);
        expect(error).toMatchObject({ code: how === 'cancelled' ? 'cancelled' : 'not_ready' });
        expect(error.message).toMatch(
          /; deployment shop deleted \(a first deploy has nothing to roll back to\); no release serves$/,
        );
      },
    );

    it("Secrets are named by content: a rollback's template finds the Secret it was applied with, intact; stale ones go after a good rollout", async () => {
      api.on('GET', DEPLOYMENT, deploymentController('deadline'));
      api.on('GET', `${NS}/pods`, (_req, res) => sendJson(res, 200, { metadata: {}, items: [] }));
      api.on('GET', `${NS}/events`, (_req, res) => sendJson(res, 200, { items: [] }));
      const v1Secrets = { DB_PASSWORD: 'old', LEGACY_TOKEN: 't0k' };
      const v1Secret = `${NS}/secrets/${secretNameFor('shop', v1Secrets)}`;
      await target.apply({
        app: { ...app, currentRelease: null, secrets: v1Secrets },
        release: testRelease('shop', 1),
        signal: new AbortController().signal,
        log: () => {},
      });
      // v2 drops a key and changes a value, and fails: rolled back to v1.
      const v2Secrets = { DB_PASSWORD: 'new' };
      const error = await caught(
        target.apply({
          app: { ...app, secrets: v2Secrets },
          release,
          signal: new AbortController().signal,
          log: () => {},
        }),
      );
      expect(error.message).toMatch(/deployment shop rolled back to v1/);
      const refs = JSON.stringify(api.objects.get(DEPLOYMENT)!.spec).match(
        /"secretKeyRef":\{"name":"[^"]+","key":"[^"]+"\}/g,
      );
      expect(refs).toEqual([
        `"secretKeyRef":{"name":"${secretNameFor('shop', v1Secrets)}","key":"DB_PASSWORD"}`,
        `"secretKeyRef":{"name":"${secretNameFor('shop', v1Secrets)}","key":"LEGACY_TOKEN"}`,
      ]);
      // What v1's pods read when they restart: v1's values, every key there.
      expect(api.objects.get(v1Secret)).toMatchObject({ stringData: v1Secrets });
      expect(api.sent('DELETE', v1Secret)).toHaveLength(0);
      // v3 rolls out: the Secrets of v1 and of the failed v2 go, its own stays.
      api.on('GET', DEPLOYMENT, rolledOut);
      await target.apply({
        app: { ...app, secrets: { DB_PASSWORD: 'v3' } },
        release: testRelease('shop', 3),
        signal: new AbortController().signal,
        log: () => {},
      });
      const left = [...api.objects.keys()].filter((p) => p.startsWith(`${NS}/secrets/`));
      expect(left).toEqual([`${NS}/secrets/${secretNameFor('shop', { DB_PASSWORD: 'v3' })}`]);
    });

    it('the Deployment carries what was applied, without secret values', async () => {
      api.on('GET', DEPLOYMENT, rolledOut);
      await rollout().done;
      const stored = api.objects.get(DEPLOYMENT)!;
      const lastApplied = JSON.parse(stored.metadata.annotations!['sidecar.paas/last-applied']!) as {
        metadata: { annotations: Record<string, string> };
      };
      expect(lastApplied).toMatchObject({
        kind: 'Deployment',
        metadata: { name: 'shop', annotations: { 'sidecar.paas/release': '2' } },
      });
      expect(lastApplied.metadata.annotations['sidecar.paas/last-applied']).toBeUndefined();
      expect(JSON.stringify(stored)).not.toContain('s3cret');
    });
  });

  it('an expired watch (ERROR 410 Gone) is resumed from a fresh read', async () => {
    let watches = 0;
    api.on('GET', `${APPS}/deployments`, (_req, res) => {
      watches++;
      if (watches === 1)
        sendWatch(res, [{ type: 'ERROR', object: statusBody(410, 'Expired', 'too old resource version: 77 (90)') }]);
      else sendWatch(res, [{ type: 'MODIFIED', object: deploymentWith(DONE) }]);
    });
    await rollout().done;
    expect(watches).toBe(2);
    expect(api.sent('GET', DEPLOYMENT).length).toBe(3); // the ownership read, then one read per watch
  });

  it('a watch that keeps failing ends the rollout with a retryable error after 5 attempts', async () => {
    api.on('GET', `${APPS}/deployments`, (_req, res) =>
      sendJson(res, 500, statusBody(500, 'InternalError', 'etcdserver: leader changed')),
    );
    const e = await caught(rollout().done);
    expect(e).toMatchObject({ code: 'deploy_failed', retryable: true });
    expect(e.message).toMatch(/watching deployment shop failed 5 times in a row/);
    expect(api.sent('GET', `${APPS}/deployments`)).toHaveLength(5);
  });

  it('a Deployment deleted during the rollout fails it', async () => {
    api.on('GET', `${APPS}/deployments`, (_req, res) =>
      sendWatch(res, [{ type: 'DELETED', object: deploymentWith({}) }]),
    );
    expect((await caught(rollout().done)).message).toMatch(/was deleted during the rollout/);
  });

  it("the worker shutting down (close) during the rollout is a retryable cancellation, not the rollout's deadline: no rollback", async () => {
    api.on('GET', `${APPS}/deployments`, (_req, res) => {
      sendWatch(res, [], { keepOpen: true });
      void target.close();
    });
    const e = await caught(rollout().done);
    expect(e).toMatchObject({ code: 'cancelled', retryable: true, message: 'the worker is shutting down' });
    expect(api.sent('PATCH', DEPLOYMENT)).toHaveLength(1);
  });

  it('cancelling the deploy aborts the open watch', async () => {
    const controller = new AbortController();
    api.on('GET', `${APPS}/deployments`, (_req, res) => {
      sendWatch(res, [], { keepOpen: true });
      controller.abort();
    });
    expect(await caught(rollout({ signal: controller.signal }).done)).toMatchObject({ code: 'cancelled' });
  });
});

describe('apply: platform sidecars', () => {
  const tls = {
    cert: '-----BEGIN CERTIFICATE-----\nissued-cert\n-----END CERTIFICATE-----\n',
    key: '-----BEGIN PRIVATE KEY-----\nissued-key\n-----END PRIVATE KEY-----\n',
  };
  const withSidecars = { ...app, sidecars: { logs: true, procinfo: true, tls: { enabled: true } } };
  const SIDECARS = sidecarSecretNameFor('shop', { 'tls.crt': tls.cert, 'tls.key': tls.key });

  it('sends the sidecar Secret (the issued certificate and key) before the Deployment, which refers to it; the Service gets https 8443', async () => {
    const issued: string[] = [];
    target = new KubernetesTarget({
      kubeConfig: api.kubeConfig(),
      settings: testSettings,
      rolloutTimeoutMs: 10_000,
      issueTls: async (name) => (issued.push(name), tls),
    });
    api.on('GET', DEPLOYMENT, rolledOut);
    await target.apply({ app: withSidecars, release, signal: new AbortController().signal, log: () => {} });
    expect(issued).toEqual(['shop']);
    const patches = api.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((p) => p.path)).toEqual([
      DENY,
      POLICY,
      SECRET,
      `${NS}/secrets/${SIDECARS}`,
      `${NS}/services/shop`,
      '/apis/networking.k8s.io/v1/namespaces/apps/ingresses/shop',
      DEPLOYMENT,
    ]);
    for (const p of patches)
      expect(p).toMatchObject({
        contentType: 'application/apply-patch+yaml',
        query: { fieldManager: 'sidecar-paas', force: 'true' },
      });
    expect(patches[3]!.body).toMatchObject({
      kind: 'Secret',
      stringData: { 'tls.crt': tls.cert, 'tls.key': tls.key },
    });
    // The app's policy lets the ingress controller reach the tls sidecar's port as well as the runtime's.
    expect(patches[1]!.body).toMatchObject({
      spec: {
        ingress: [
          {
            ports: [
              { protocol: 'TCP', port: 8080 },
              { protocol: 'TCP', port: 8443 },
            ],
          },
        ],
      },
    });
    const deployment = patches[6]!.body as {
      spec: {
        template: {
          spec: {
            shareProcessNamespace: boolean;
            volumes: unknown[];
            initContainers: { name: string; image: string; env?: unknown[] }[];
          };
        };
      };
    };
    expect(JSON.stringify(deployment)).not.toContain('issued-key');
    expect(deployment.spec.template.spec.shareProcessNamespace).toBe(true);
    expect(deployment.spec.template.spec.initContainers.map((c) => [c.name, c.image])).toEqual([
      ['logs', testSettings.sidecarImages!.logs],
      ['app', `127.0.0.1:5000/sidecar-app/shop@${release.imageDigest}`],
      ['tls', testSettings.sidecarImages!.tls],
      ['procinfo', testSettings.sidecarImages!.procinfo],
    ]);
    // The key reaches the tls sidecar as a file of that Secret, never as env.
    expect(deployment.spec.template.spec.volumes).toContainEqual({
      name: 'tls-material',
      secret: { secretName: SIDECARS, defaultMode: 0o444 },
    });
    expect(patches[4]!.body).toMatchObject({
      spec: {
        ports: [
          { name: 'http', port: 80 },
          { name: 'https', port: 8443, targetPort: 'https' },
        ],
      },
    });
  });

  it('a certificate the app brings is used as is; turning tls off removes the sidecar Secret once the rollout is done', async () => {
    target = new KubernetesTarget({ kubeConfig: api.kubeConfig(), settings: testSettings, rolloutTimeoutMs: 10_000 });
    api.on('GET', DEPLOYMENT, rolledOut);
    await target.apply({
      app: { ...withSidecars, sidecars: { ...withSidecars.sidecars, tls: { enabled: true, ...tls } } },
      release,
      signal: new AbortController().signal,
      log: () => {},
    });
    expect(api.objects.get(`${NS}/secrets/${SIDECARS}`)).toMatchObject({
      stringData: { 'tls.crt': tls.cert },
    });
    api.requests.length = 0;
    await target.apply({ app, release, signal: new AbortController().signal, log: () => {} });
    const deletes = api.requests.filter((r) => r.method === 'DELETE');
    expect(deletes.map((d) => d.path)).toEqual([`${NS}/secrets/${SIDECARS}`]);
    // After the Deployment was seen rolled out, never before.
    const lastRead = api.requests.map((r) => `${r.method} ${r.path}`).lastIndexOf(`GET ${DEPLOYMENT}`);
    expect(api.requests.indexOf(deletes[0]!)).toBeGreaterThan(lastRead);
  });
});

describe("status: pods and events read back into the API's Pod shape", () => {
  it("lists the app's pods by label (jobs excluded) and the pod events, mapped to PodView", async () => {
    api.on('GET', `${NS}/pods`, (_req, res) =>
      sendJson(res, 200, {
        metadata: {},
        items: [
          {
            metadata: { name: 'shop-5d4-abcde', labels: { 'sidecar.paas/release': '2' } },
            spec: { initContainers: [{ name: 'app', restartPolicy: 'Always' }], containers: [{ name: 'runtime' }] },
            status: {
              phase: 'Running',
              conditions: [
                { type: 'Initialized', status: 'True' },
                { type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:02Z' },
              ],
              initContainerStatuses: [
                {
                  name: 'app',
                  image: 'r/app@sha256:1',
                  ready: true,
                  started: true,
                  restartCount: 0,
                  state: { running: { startedAt: '2026-01-01T00:00:01Z' } },
                },
              ],
              containerStatuses: [
                {
                  name: 'runtime',
                  image: 'r/rt',
                  ready: true,
                  started: true,
                  restartCount: 1,
                  state: { running: { startedAt: '2026-01-01T00:00:03Z' } },
                },
              ],
            },
          },
        ],
      }),
    );
    api.on('GET', `${NS}/events`, (_req, res) =>
      sendJson(res, 200, {
        items: [
          {
            involvedObject: { kind: 'Pod', name: 'shop-5d4-abcde', fieldPath: 'spec.containers{runtime}' },
            reason: 'Started',
            message: 'Started container runtime',
            lastTimestamp: '2026-01-01T00:00:03Z',
          },
          {
            involvedObject: { kind: 'Pod', name: 'shop-5d4-abcde', fieldPath: 'spec.initContainers{app}' },
            reason: 'Pulled',
            message: 'Successfully pulled image',
            lastTimestamp: '2026-01-01T00:00:00Z',
          },
          {
            involvedObject: { kind: 'Pod', name: 'someone-else' },
            reason: 'Started',
            message: 'x',
            lastTimestamp: '2026-01-01T00:00:00Z',
          },
        ],
      }),
    );
    const [view] = await target.status('shop');
    expect(api.sent('GET', `${NS}/pods`)[0]!.query).toEqual({ labelSelector: `${SELECTOR},sidecar.paas/kind!=job` });
    expect(api.sent('GET', `${NS}/events`)[0]!.query).toEqual({ fieldSelector: 'involvedObject.kind=Pod' });
    expect(view).toEqual({
      name: 'shop-5d4-abcde',
      release: 2,
      phase: 'Running',
      ready: true,
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:02.000Z' },
      ],
      initContainerStatuses: [
        {
          name: 'app',
          image: 'r/app@sha256:1',
          sidecar: true,
          started: true,
          ready: true,
          restartCount: 0,
          state: { running: { startedAt: '2026-01-01T00:00:01.000Z' } },
        },
      ],
      containerStatuses: [
        {
          name: 'runtime',
          image: 'r/rt',
          sidecar: false,
          started: true,
          ready: true,
          restartCount: 1,
          state: { running: { startedAt: '2026-01-01T00:00:03.000Z' } },
        },
      ],
      events: [
        { time: '2026-01-01T00:00:00.000Z', container: 'app', reason: 'Pulled', message: 'Successfully pulled image' },
        {
          time: '2026-01-01T00:00:03.000Z',
          container: 'runtime',
          reason: 'Started',
          message: 'Started container runtime',
        },
      ],
    });
  });
});

describe('logs: streamed per container', () => {
  const ours = {
    metadata: {
      name: 'shop-5d4-abcde',
      labels: { 'sidecar.paas/managed': 'true', 'sidecar.paas/platform': 'contract' },
    },
  };

  it("streams one container's log (follow, tail) into the given stream", async () => {
    api.put(`${NS}/pods/shop-5d4-abcde`, ours);
    api.on('GET', `${NS}/pods/shop-5d4-abcde/log`, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('listening on 8080\n');
      res.end('GET / 200\n');
    });
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    await target.logs({ pod: 'shop-5d4-abcde', container: 'runtime', follow: true, tailLines: 10 }, out);
    expect(text).toBe('listening on 8080\nGET / 200\n');
    const [req] = api.sent('GET', `${NS}/pods/shop-5d4-abcde/log`);
    expect(req!.query).toMatchObject({ container: 'runtime', follow: 'true', tailLines: '10' });
  });

  it('does not read the log of a pod the platform does not own', async () => {
    api.put(`${NS}/pods/db-0`, { metadata: { name: 'db-0', labels: { app: 'postgres' } } });
    expect(await caught(target.logs({ pod: 'db-0', container: 'postgres' }, new PassThrough()))).toMatchObject({
      code: 'pod_not_found',
    });
    expect(api.sent('GET', `${NS}/pods/db-0/log`)).toHaveLength(0);
  });
});

describe("remove: only objects carrying the platform's labels", () => {
  it('lists each kind by the platform label selector and deletes exactly what it listed', async () => {
    const labels = { 'sidecar.paas/managed': 'true', 'sidecar.paas/platform': 'contract', 'sidecar.paas/app': 'shop' };
    const mine = [
      api.put(DEPLOYMENT, { kind: 'Deployment', metadata: { name: 'shop', labels } }),
      api.put(`${NS}/services/shop`, { kind: 'Service', metadata: { name: 'shop', labels } }),
      api.put('/apis/networking.k8s.io/v1/namespaces/apps/ingresses/shop', {
        kind: 'Ingress',
        metadata: { name: 'shop', labels },
      }),
      api.put(`${NS}/secrets/shop-secrets`, { kind: 'Secret', metadata: { name: 'shop-secrets', labels } }),
      api.put(POLICY, { kind: 'NetworkPolicy', metadata: { name: 'shop', labels } }),
    ];
    // The namespace's default-deny policy is the platform's (no app label): removing an app leaves it.
    const { 'sidecar.paas/app': _app, ...platformLabels } = labels;
    api.put(DENY, {
      kind: 'NetworkPolicy',
      metadata: { name: 'sidecar.contract.default-deny', labels: platformLabels },
    });
    api.put(`${APPS}/deployments/shop-db`, {
      kind: 'Deployment',
      metadata: { name: 'shop-db', labels: { 'sidecar.paas/app': 'shop' } },
    }); // not managed
    api.put(`${APPS}/deployments/shop2`, {
      kind: 'Deployment',
      metadata: { name: 'shop2', labels: { ...labels, 'sidecar.paas/platform': 'other' } },
    });
    await target.remove('shop');
    const lists = api.requests.filter(
      (r) =>
        r.method === 'GET' &&
        !r.query.watch &&
        /\/(ingresses|services|deployments|jobs|secrets|pods|networkpolicies)$/.test(r.path),
    );
    // The app's policy only once its pods are gone: a terminating pod is never unisolated.
    expect(lists.map((r) => r.path.split('/').pop())).toEqual([
      'ingresses',
      'services',
      'deployments',
      'jobs',
      'secrets',
      'pods',
      'networkpolicies',
    ]);
    for (const l of lists) expect(l.query.labelSelector).toBe(SELECTOR);
    const deletes = api.requests.filter((r) => r.method === 'DELETE');
    expect(deletes.map((d) => d.path).sort()).toEqual(mine.map((m) => pathOf(m.kind!, m.metadata.name)).sort());
    for (const d of deletes) {
      expect(d.query).toEqual({ propagationPolicy: 'Background' });
      expect(mine.map((m) => m.metadata.uid)).toContain(
        (d.body as { preconditions: { uid: string } }).preconditions.uid,
      );
    }
    expect(api.objects.has(`${APPS}/deployments/shop-db`)).toBe(true);
    expect(api.objects.has(`${APPS}/deployments/shop2`)).toBe(true);
    expect(api.objects.has(DENY)).toBe(true);
  });

  it("waits until the app's pods are gone (watching for their deletion)", async () => {
    const labels = { 'sidecar.paas/managed': 'true', 'sidecar.paas/platform': 'contract', 'sidecar.paas/app': 'shop' };
    api.put(`${NS}/pods/shop-1`, { metadata: { name: 'shop-1', labels } });
    api.on('GET', `${NS}/pods`, (req, res) => {
      if (req.query.watch === 'true')
        return sendWatch(res, [{ type: 'DELETED', object: { metadata: { name: 'shop-1' } } }]);
      sendJson(res, 200, {
        metadata: { resourceVersion: '5' },
        items: [...api.objects.values()].filter((o) => o.metadata.name === 'shop-1'),
      });
    });
    await target.remove('shop');
    expect(api.sent('GET', `${NS}/pods`).find((r) => r.query.watch === 'true')!.query).toMatchObject({
      labelSelector: SELECTOR,
      resourceVersion: '5',
    });
  });
});

const pathOf = (kind: string, name: string) =>
  (
    ({
      Deployment: `${APPS}/deployments/${name}`,
      Service: `${NS}/services/${name}`,
      Secret: `${NS}/secrets/${name}`,
      Ingress: `/apis/networking.k8s.io/v1/namespaces/apps/ingresses/${name}`,
      NetworkPolicy: `${POLICIES}/${name}`,
    }) as Record<string, string>
  )[kind]!;

describe('runJob: a batch/v1 Job on the same template', () => {
  it('applies the Job, watches its pod until the command exits, reads the runtime log and deletes the Job', async () => {
    const jobName = 'shop-job-j-000000001abc';
    const pod = (state: Record<string, unknown>) => ({
      metadata: { name: `${jobName}-xyz12` },
      status: {
        phase: 'Running',
        containerStatuses: [{ name: 'runtime', image: 'r', ready: false, restartCount: 0, state }],
      },
    });
    api.on('GET', `${NS}/pods`, (req, res) => {
      if (req.query.watch !== 'true') return sendJson(res, 200, { metadata: { resourceVersion: '3' }, items: [] });
      sendWatch(res, [
        { type: 'ADDED', object: pod({ waiting: { reason: 'PodInitializing' } }) },
        { type: 'MODIFIED', object: pod({ running: { startedAt: '2026-01-01T00:00:00Z' } }) },
        {
          type: 'MODIFIED',
          object: pod({ terminated: { exitCode: 3, reason: 'Error', finishedAt: '2026-01-01T00:00:01Z' } }),
        },
      ]);
    });
    api.on('GET', `${NS}/pods/${jobName}-xyz12/log`, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('migrating...\nfailed: no table\n');
    });
    let started = 0;
    const result = await target.runJob({
      app,
      release,
      jobId: 'j_000000001abc',
      command: ['node', 'migrate.js'],
      env: { DRY: '1' },
      signal: new AbortController().signal,
      onStarted: () => started++,
    });
    expect(result).toEqual({ exitCode: 3, output: 'migrating...\nfailed: no table\n', reason: 'Error' });
    expect(started).toBe(1);
    // The policies that isolate the job's pod and the Secret of the app's current values (its pod refers to it)
    // first, then the Job; the policies exactly as a rollout applies them.
    const patches = api.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.path)).toEqual([
      DENY,
      POLICY,
      SECRET,
      `/apis/batch/v1/namespaces/apps/jobs/${jobName}`,
    ]);
    const rollout = target.manifests({ app, release }).filter((m) => m.kind === 'NetworkPolicy');
    expect(patches.slice(0, 2).map((p) => p.body)).toEqual(JSON.parse(JSON.stringify(rollout)));
    const [apply] = api.sent('PATCH', `/apis/batch/v1/namespaces/apps/jobs/${jobName}`);
    expect(apply).toMatchObject({
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: 'sidecar-paas', force: 'true' },
    });
    expect(apply!.body).toMatchObject({
      kind: 'Job',
      spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never' } } },
    });
    const watch = api.sent('GET', `${NS}/pods`).find((r) => r.query.watch === 'true');
    expect(watch!.query.labelSelector).toBe(`${SELECTOR},sidecar.paas/deploy=j_000000001abc`);
    expect(api.sent('GET', `${NS}/pods/${jobName}-xyz12/log`)[0]!.query).toMatchObject({
      container: 'runtime',
      tailLines: '2000',
    });
    expect(api.sent('DELETE', `/apis/batch/v1/namespaces/apps/jobs/${jobName}`)).toHaveLength(1);
  });

  it('reports a job whose image cannot be pulled as failed without an exit code', async () => {
    api.on('GET', `${NS}/pods`, (_req, res) =>
      sendJson(res, 200, {
        metadata: { resourceVersion: '3' },
        items: [
          {
            metadata: { name: 'p' },
            status: {
              phase: 'Pending',
              initContainerStatuses: [
                {
                  name: 'app',
                  image: 'x',
                  ready: false,
                  restartCount: 0,
                  state: { waiting: { reason: 'ImagePullBackOff', message: 'not found' } },
                },
              ],
            },
          },
        ],
      }),
    );
    const result = await target.runJob({
      app,
      release,
      jobId: 'j_2',
      command: ['true'],
      env: {},
      signal: new AbortController().signal,
    });
    expect(result).toEqual({ exitCode: null, output: '', reason: 'app: ImagePullBackOff: not found' });
  });
});

describe('ping', () => {
  it('reads one pod of the namespace; rejected credentials are an operator problem, not retried', async () => {
    api.on('GET', `${NS}/pods`, (_req, res) => sendJson(res, 401, statusBody(401, 'Unauthorized', 'Unauthorized')));
    const e = await caught(target.ping());
    expect(api.sent('GET', `${NS}/pods`)[0]!.query).toMatchObject({ limit: '1' });
    expect(e).toMatchObject({ code: 'deploy_failed', retryable: false });
    expect(e.message).toMatch(/credentials/);
  });
});
