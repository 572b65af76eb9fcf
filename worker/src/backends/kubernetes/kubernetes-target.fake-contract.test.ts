import { Labels } from '@sidecar/core';
import { describe, expect, it } from 'vitest';
import { targetContract } from '../contract/target-contract.js';
import { uniqueName } from '@sidecar/kubelet/test-support';
import { FakeControllers } from './fake-controllers.js';
import { KubernetesTarget } from './kubernetes-target.js';
import { FakeApiServer, testApp, testRelease, testSettings } from './test-support.js';

/**
 * The shared Target contract on the KubernetesTarget against a fake API server with
 * emulated controllers (fake-controllers.ts): not a cluster. The requests are the real
 * client's; the pods, their readiness and the jobs' results are the fake's, which marks
 * pods Ready unless their template names a `-broken` image. The same contract on a real
 * cluster: kubernetes-target.cluster-contract.test.ts.
 */
const BROKEN = /-broken[@:]/;

targetContract('Target contract: KubernetesTarget against a fake API server with emulated controllers', {
  apps: { main: uniqueName('tc'), other: uniqueName('tc-other') },
  timeoutMs: 30_000,
  harness: async () => {
    const api = new FakeApiServer();
    await api.start();
    const controllers = new FakeControllers(api, { neverReady: (image) => BROKEN.test(image) });
    const target = new KubernetesTarget({
      kubeConfig: api.kubeConfig(),
      settings: testSettings,
      rolloutTimeoutMs: 10_000,
    });
    return {
      target,
      app: (name, over = {}) => testApp(name, { replicas: 1, ...over }),
      release: (app, version) => testRelease(app, version),
      brokenRelease: (app, version) =>
        testRelease(app, version, { image: `127.0.0.1:5000/sidecar-app/${app}-broken:d_${version}` }),
      leftovers: async (app) =>
        [...api.objects.entries()]
          .filter(([, o]) => o.metadata.labels?.[Labels.app] === app)
          .map(([path]) => path)
          .sort(),
      close: async () => {
        await target.close();
        await controllers.idle();
        await api.close();
      },
    };
  },
});

describe('KubernetesTarget against the emulated controllers: the rollback itself', () => {
  it("a controller that keeps the failed rollout's ProgressDeadlineExceeded after the rollback does not make it look failed", async () => {
    const api = new FakeApiServer();
    await api.start();
    const controllers = new FakeControllers(api, { neverReady: (image) => BROKEN.test(image) });
    const target = new KubernetesTarget({
      kubeConfig: api.kubeConfig(),
      settings: testSettings,
      rolloutTimeoutMs: 10_000,
    });
    const name = uniqueName('rb');
    const signal = new AbortController().signal;
    try {
      await target.apply({ app: testApp(name, { replicas: 1 }), release: testRelease(name, 1), signal, log: () => {} });
      const broken = testRelease(name, 2, { image: `127.0.0.1:5000/sidecar-app/${name}-broken:d_2` });
      const error = await target
        .apply({ app: testApp(name, { replicas: 1, currentRelease: 1 }), release: broken, signal, log: () => {} })
        .then(
          () => undefined,
          (e: unknown) => e as Error,
        );
      // The emulated controller kept the condition (the template's pods were there already)...
      const deployment = api.objects.get(`/apis/apps/v1/namespaces/${testSettings.namespace}/deployments/${name}`)!;
      expect((deployment.status as { conditions: { reason: string }[] }).conditions[0]!.reason).toBe(
        'ProgressDeadlineExceeded',
      );
      // ...and the rollback is judged by the replica counts.
      expect(error?.message).toMatch(new RegExp(`; deployment ${name} rolled back to v1; v1 keeps serving$`));
      expect((await target.status(name)).map((p) => [p.release, p.ready])).toEqual([[1, true]]);
    } finally {
      await target.close();
      await controllers.idle();
      await api.close();
    }
  });
});
