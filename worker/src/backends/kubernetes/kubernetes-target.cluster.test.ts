import { randomBytes } from 'node:crypto';
import { AppsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectRedis, createStores, SecretBox } from '@sidecar/store';
import { KubeLogCollector } from './kube-log-collector.js';
import { uniqueName } from '@sidecar/kubelet/test-support';
import { loadKubeConfig } from './kube-config.js';
import { KubernetesTarget } from './kubernetes-target.js';
import { clusterSetup, testApp, testRelease } from './test-support.js';

/**
 * The Target contract on a real cluster: runs only when KUBECONFIG points at one (none can
 * run on the project's machines). Also needs SIDECAR_K8S_TEST_REGISTRY: a registry this
 * Docker engine can push to and the cluster's nodes can pull from (e.g. kind's local
 * registry at localhost:5001). Uses the namespace SIDECAR_K8S_TEST_NAMESPACE (default
 * sidecar-test), created if missing; every object it makes is removed afterwards.
 */
const kubeconfig = process.env.KUBECONFIG;
if (!kubeconfig) {
  console.info(
    'skipped: KUBECONFIG is not set; the real-cluster suite of the Kubernetes target did not run (the contract tests against a fake API server did)',
  );
}

describe.skipIf(!kubeconfig)('KubernetesTarget on the cluster in KUBECONFIG', () => {
  const name = uniqueName('k8s');
  let namespace = '';
  let target: KubernetesTarget;
  let images = { logic: '', broken: '', runtime: '' };
  let kubeConfig: KubeConfig;
  const app = testApp(name, { replicas: 2, secrets: { TOKEN: 'cluster-secret' } });
  const release = (version: number, image: string) =>
    testRelease(name, version, { image, imageDigest: '', runtimeImage: images.runtime });
  const signal = () => new AbortController().signal;

  beforeAll(async () => {
    const cluster = await clusterSetup(name);
    namespace = cluster.settings.namespace;
    images = cluster.images;
    kubeConfig = cluster.kubeConfig;
    target = new KubernetesTarget({
      kubeConfig: cluster.kubeConfig,
      settings: cluster.settings,
      rolloutTimeoutMs: 120_000,
    });
  }, 300_000);

  afterAll(async () => {
    await target?.remove(name);
    await target?.close();
  }, 120_000);

  it('rolls an app out: every replica Ready, the logic in a started native sidecar', async () => {
    const lines: string[] = [];
    await target.apply({ app, release: release(1, images.logic), signal: signal(), log: (l) => lines.push(l) });
    expect(lines.at(-1)).toMatch(/rolled out/);
    const pods = await target.status(name);
    expect(pods.filter((p) => p.release === 1 && p.ready)).toHaveLength(2);
    for (const p of pods)
      expect(p.initContainerStatuses[0]).toMatchObject({ name: 'app', sidecar: true, started: true });
  }, 180_000);

  it("collects the pods' logs into Redis: the logic sidecar's and the runtime's first lines, with their release", async () => {
    const redis = connectRedis(inject('redisUrl'));
    const stores = createStores(redis, `t-${name}:`, new SecretBox([{ id: 'k', key: randomBytes(32) }]));
    const collector = new KubeLogCollector({ kubeConfig, namespace, stores, platformId: name, intervalMs: 500 });
    collector.start();
    try {
      const seen = async () =>
        (await stores.appLogs.tail(name, { n: 100 })).map((l) => `${l.container} ${l.release} ${l.stream} ${l.line}`);
      await expect
        .poll(seen, { timeout: 60_000, interval: 500 })
        .toEqual(
          expect.arrayContaining([
            'app 1 stdout logic start',
            'runtime 1 stdout runtime start',
            'runtime 1 stdout runtime: serving /workspace on :8080',
          ]),
        );
    } finally {
      await collector.close();
      await stores.appLogs.remove(name);
      await stores.close();
      await redis.quit();
    }
  }, 90_000);

  it("applying the same release again changes nothing (the Deployment's generation stays)", async () => {
    const apps = loadKubeConfig().makeApiClient(AppsV1Api);
    const before = await apps.readNamespacedDeployment({ name, namespace });
    await target.apply({ app, release: release(1, images.logic), signal: signal(), log: () => {} });
    const after = await apps.readNamespacedDeployment({ name, namespace });
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
  }, 180_000);

  it('a release that never becomes ready fails as not_ready while the previous one keeps serving', async () => {
    const failed = await target
      .apply({
        app: { ...app, currentRelease: 1 },
        release: release(2, images.broken),
        signal: signal(),
        log: () => {},
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(failed).toMatchObject({ code: 'not_ready', message: expect.stringMatching(/rolled back to v1/) });
    expect((await target.status(name)).filter((p) => p.release === 1 && p.ready)).toHaveLength(2);
  }, 180_000);

  it("remove deletes the app's objects and waits for its pods to go", async () => {
    await target.remove(name);
    expect(await target.status(name)).toEqual([]);
  }, 180_000);
});
