import { APP_DEFAULTS, type App, type Release } from '@sidecar/core';
import { TEST_IMAGES } from '@sidecar/kubelet/test-support';

/** Test fixtures of the Docker target's tests: a small app (no platform sidecars) and its releases. */
export const testApp = (name: string, over: Partial<App> = {}): App => ({
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
});

/** A release of the test logic image (`hello from $CODE` at /index.html); `over` changes its image or env. */
export const testRelease = (app: string, version: number, over: Partial<Release> = {}): Release => ({
  version,
  app,
  image: TEST_IMAGES.logic,
  imageDigest: 'sha256:test',
  runtimeImage: TEST_IMAGES.runtime,
  env: {},
  manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' },
  createdAt: new Date().toISOString(),
  deployId: `d${version}`,
  ...over,
});
