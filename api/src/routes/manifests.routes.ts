import { Router } from 'express';
import {
  DomainError,
  enabledSidecars,
  ErrorCode,
  kubernetesSettingsOf,
  podNameFor,
  renderAppManifests,
  renderPod,
  SECRET_MASK,
  type App,
  type BackendSettings,
  type Pod,
  type Release,
} from '@sidecar/core';
import { ManifestsQuery, parseInput } from '@sidecar/core/wire';
import type { Stores } from '@sidecar/store';
import { appParam } from './params.js';

/**
 * `GET /apps/:app/manifests?target=kubernetes|docker[&release=N]`: the objects the app is
 * (or, on the other target, would be) deployed as, rendered by core from the same pod
 * template the worker uses: a user can see, diff, or take them to any cluster.
 * Secret values never leave in clear: the Secret (kubernetes) and secret env values
 * (docker) are masked as `******`.
 */
export function manifestsRoutes(deps: { stores: Stores }): Router {
  const r = Router();
  r.get('/apps/:app/manifests', async (req, res) => {
    const name = appParam(req);
    const { target, release: version } = parseInput(ManifestsQuery, req.query);
    const app = await deps.stores.apps.get(name);
    const release = await releaseFor(deps.stores, app, version);
    // Exactly what the worker's backend applies (undefined before any worker has started).
    const backend = await deps.stores.platform.backend();
    const items =
      target === 'kubernetes'
        ? renderAppManifests({ app, release, settings: kubernetesSettingsOf(backend), secretValues: 'mask' })
        : dockerPods(app, release, backend);
    res.json({ target, release: release.version, items });
  });
  return r;
}

async function releaseFor(stores: Stores, app: App, version: number | undefined): Promise<Release> {
  if (version !== undefined) return stores.releases.get(app.name, version);
  if (app.currentRelease === null) {
    throw new DomainError(
      ErrorCode.noRelease,
      `app "${app.name}" has no release yet: its manifests name the images of a release, so deploy it first`,
    );
  }
  return stores.releases.get(app.name, app.currentRelease);
}

/**
 * The pods the Docker target runs (one per replica; it names them with a random suffix, shown here as
 * the replica number), platform sidecars included, by the images the worker published; the TLS
 * certificate and key, like secrets, are masked.
 */
function dockerPods(app: App, release: Release, backend: BackendSettings | undefined): Pod[] {
  const images = backend?.sidecarImages;
  const secretKeys = new Set(Object.keys(app.secrets));
  const wanted = enabledSidecars(app.sidecars);
  if (wanted.length > 0 && !images) {
    throw new DomainError(
      ErrorCode.notReady,
      `platform sidecars ${wanted.join(', ')} are enabled but no sidecar images are known (the worker publishes them at start)`,
    );
  }
  const platformSidecars = images ? { images, tls: { cert: SECRET_MASK, key: SECRET_MASK } } : undefined;
  return Array.from({ length: app.replicas }, (_, i) => {
    const pod = renderPod({
      app: { name: app.name, resources: app.resources, secrets: app.secrets, sidecars: app.sidecars },
      release,
      podName: podNameFor(app.name, release.version, String(i + 1)),
      ...(backend ? { settings: backend.template } : {}),
      ...(platformSidecars ? { platformSidecars } : {}),
    });
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      if (c.env) c.env = c.env.map((e) => (secretKeys.has(e.name) ? { name: e.name, value: SECRET_MASK } : e));
    }
    return pod;
  });
}
