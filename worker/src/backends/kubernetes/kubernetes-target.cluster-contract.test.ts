import { labelSelectorFor } from '@sidecar/core';
import { AppsV1Api, BatchV1Api, CoreV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import { targetContract } from '../contract/target-contract.js';
import { uniqueName } from '@sidecar/kubelet/test-support';
import { KubernetesTarget } from './kubernetes-target.js';
import { clusterSetup, testApp, testRelease } from './test-support.js';

/**
 * The shared Target contract on a real cluster: runs only when KUBECONFIG points at one
 * (none can run on the project's machines) and SIDECAR_K8S_TEST_REGISTRY names a registry
 * the nodes pull from; see clusterSetup. Otherwise skipped, saying so.
 */
const platformId = uniqueName('k8s-contract');

targetContract('Target contract: KubernetesTarget on the cluster in KUBECONFIG', {
  apps: { main: uniqueName('tc'), other: uniqueName('tc-other') },
  skipAll: process.env.KUBECONFIG
    ? undefined
    : 'KUBECONFIG is not set, so no real cluster is available (the same contract ran against a fake API server)',
  timeoutMs: 240_000,
  harness: async () => {
    const { kubeConfig, settings, images } = await clusterSetup(platformId);
    const target = new KubernetesTarget({ kubeConfig, settings, rolloutTimeoutMs: 120_000 });
    const release = (app: string, version: number, image: string) =>
      testRelease(app, version, { image, imageDigest: '', runtimeImage: images.runtime, env: {} });
    const { namespace } = settings;
    const [apps, core, net, batch] = [
      kubeConfig.makeApiClient(AppsV1Api),
      kubeConfig.makeApiClient(CoreV1Api),
      kubeConfig.makeApiClient(NetworkingV1Api),
      kubeConfig.makeApiClient(BatchV1Api),
    ];
    return {
      target,
      app: (name, over = {}) => testApp(name, { replicas: 1, ...over }),
      release: (app, version) => release(app, version, images.logic),
      brokenRelease: (app, version) => release(app, version, images.broken),
      leftovers: async (app) => {
        const q = { namespace, labelSelector: labelSelectorFor(settings, app) };
        const lists: Record<string, Promise<{ items: { metadata?: { name?: string } }[] }>> = {
          deployment: apps.listNamespacedDeployment(q),
          replicaset: apps.listNamespacedReplicaSet(q),
          pod: core.listNamespacedPod(q),
          service: core.listNamespacedService(q),
          secret: core.listNamespacedSecret(q),
          ingress: net.listNamespacedIngress(q),
          job: batch.listNamespacedJob(q),
        };
        const names = await Promise.all(
          Object.entries(lists).map(async ([kind, list]) =>
            (await list).items.map((o) => `${kind}/${o.metadata?.name ?? ''}`),
          ),
        );
        return names.flat().sort();
      },
      close: () => target.close(),
    };
  },
});
