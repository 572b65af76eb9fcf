import { randomBytes } from 'node:crypto';
import { AppsV1Api, NetworkingV1Api, type KubeConfig } from '@kubernetes/client-node';
import { renderDefaultDenyPolicy } from '@sidecar/core';
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
/** Whether the cluster's CNI enforces NetworkPolicies (Calico, Cilium, ...): the operator says so. */
const enforced = process.env.SIDECAR_K8S_TEST_POLICIES === 'enforced';
if (kubeconfig && !enforced) {
  console.info(
    'skipped: SIDECAR_K8S_TEST_POLICIES is not "enforced"; the NetworkPolicies are checked as applied, not by connecting (set it on a cluster whose CNI enforces them)',
  );
}
/**
 * A job's command that tries TCP connections from the app's pod (busybox nc: `-e true` runs once
 * connected, `-w` bounds the connect): to the cluster DNS (its address from resolv.conf, port 53) and
 * to the API server (a private Service address the pod must never reach). Prints one word per target.
 */
const PROBE = [
  'sh',
  '-c',
  [
    'dns=$(sed -n "s/^nameserver //p" /etc/resolv.conf | head -n 1)',
    'for t in "dns $dns 53" "api $KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT"; do',
    '  set -- $t; if nc -w 5 -e true "$2" "$3" </dev/null >/dev/null 2>&1; then echo "$1=reached"; else echo "$1=blocked"; fi',
    'done',
  ].join('\n'),
];

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
    // The namespace's default-deny policy is the platform's, not the app's: this suite's platform goes with it.
    if (kubeConfig)
      await kubeConfig
        .makeApiClient(NetworkingV1Api)
        .deleteNamespacedNetworkPolicy({
          name: renderDefaultDenyPolicy({ namespace, platformId: name }).metadata.name,
          namespace,
        })
        .catch(() => undefined);
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

  it("isolates the app's pods: the namespace's default-deny and the app's policy are there, as rendered", async () => {
    const net = kubeConfig.makeApiClient(NetworkingV1Api);
    const deny = await net.readNamespacedNetworkPolicy({
      name: renderDefaultDenyPolicy({ namespace, platformId: name }).metadata.name,
      namespace,
    });
    expect(deny.spec).toMatchObject({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const own = await net.readNamespacedNetworkPolicy({ name, namespace });
    expect(own.spec?.podSelector?.matchLabels).toMatchObject({ 'sidecar.paas/app': name });
    expect(own.spec?.egress?.map((r) => r.to?.map((p) => Object.keys(p).sort().join('+')))).toEqual([
      ['namespaceSelector+podSelector'],
      ['ipBlock', 'ipBlock'],
    ]);
  }, 60_000);

  it.skipIf(!enforced)(
    'an app pod reaches the cluster DNS but not the API server; with egress none, neither',
    async () => {
      const probe = async (a: typeof app, jobId: string) => {
        const result = await target.runJob({
          app: { ...a, currentRelease: 1 },
          release: release(1, images.logic),
          jobId,
          command: PROBE,
          env: {},
          signal: signal(),
        });
        expect(result.exitCode, result.output).toBe(0);
        return result.output.trim().split('\n');
      };
      expect(await probe(app, 'j_policyopen1')).toEqual(['dns=reached', 'api=blocked']);
      // The policy of an app that may reach nothing: applied by the job itself, before its pod starts.
      expect(await probe({ ...app, network: { egress: 'none' } }, 'j_policyshut1')).toEqual([
        'dns=blocked',
        'api=blocked',
      ]);
      // Back to the app's own setting for the tests that follow.
      await target.runJob({
        app: { ...app, currentRelease: 1 },
        release: release(1, images.logic),
        jobId: 'j_policyback1',
        command: ['true'],
        env: {},
        signal: signal(),
      });
    },
    240_000,
  );

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
