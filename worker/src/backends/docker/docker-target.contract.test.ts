import { APP_DEFAULTS, Labels, type App, type Release } from '@sidecar/core';
import { targetContract } from '../contract/target-contract.js';
import { PLATFORM_LABEL } from '@sidecar/kubelet';
import { DockerTarget } from './docker-target.js';
import { InMemoryRouteTable } from './in-memory-route-table.js';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from '@sidecar/kubelet/test-support';

/**
 * The shared Target contract on the Docker target, for real: the local engine runs the
 * platform's pod template with the busybox test images (logic sidecar publishing into
 * /workspace, httpd as the runtime; the broken logic image fails the runtime's readiness), with
 * warm network holders as in production.
 */
const platformId = uniqueName('contract');
const d = docker();

targetContract('Target contract: DockerTarget on the local Docker engine', {
  apps: { main: uniqueName('tc'), other: uniqueName('tc-other') },
  harness: async () => {
    await ensureTestImages(d);
    const target = new DockerTarget({
      docker: d,
      routes: new InMemoryRouteTable(),
      pauseImage: TEST_IMAGES.pause,
      backoffScale: 0.05,
      // Room for a pod's start under the whole suite's load (the never-ready case waits this long).
      readyTimeoutMs: 30_000,
      settings: { probePeriodSeconds: 1, terminationGracePeriodSeconds: 5 },
      platformId,
      // As the worker runs it: pods take warm network holders (netns-pool.ts) when one is ready.
      warmSandboxes: 1,
    });
    await target.warmUp();
    const release = (app: string, version: number, image: string): Release => ({
      version,
      app,
      image,
      imageDigest: '',
      runtimeImage: TEST_IMAGES.runtime,
      env: {},
      manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' },
      createdAt: new Date().toISOString(),
      deployId: `d_${version}`,
    });
    return {
      target,
      app: (name: string, over: Partial<App> = {}): App => ({
        ...APP_DEFAULTS,
        name,
        env: {},
        secrets: {},
        resources: { memory: '64Mi', cpu: '500m' },
        sidecars: { ...APP_DEFAULTS.sidecars, logs: false, tls: { enabled: false } },
        currentRelease: null,
        status: 'deploying',
        createdAt: new Date().toISOString(),
        ...over,
      }),
      release: (app, version) => release(app, version, TEST_IMAGES.logic),
      brokenRelease: (app, version) => release(app, version, TEST_IMAGES.logicBroken),
      leftovers: async (app) => {
        const label = [`${Labels.managed}=true`, `${Labels.app}=${app}`, `${PLATFORM_LABEL}=${platformId}`];
        const containers = await d.listContainers({ all: true, filters: { label } });
        const { Volumes } = await d.listVolumes({ filters: { label } });
        return [...containers.map((c) => c.Names[0] ?? c.Id), ...(Volumes ?? []).map((v) => v.Name)].sort();
      },
      close: () => target.close(),
    };
  },
});
