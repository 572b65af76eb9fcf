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
import type { Stores } from '@sidecar/store';
import { appParam } from './params.js';

export const ManifestTarget = { kubernetes: 'kubernetes', docker: 'docker' } as const;
export type ManifestTarget = (typeof ManifestTarget)[keyof typeof ManifestTarget];

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
    const target = targetParam(req.query.target);
    const app = await deps.stores.apps.get(name);
    const release = await releaseFor(deps.stores, app, req.query.release);
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

function targetParam(v: unknown): ManifestTarget {
  if (v === undefined) return ManifestTarget.kubernetes;
  if (v === 'kubernetes' || v === 'docker') return v;
  throw new DomainError(ErrorCode.invalidRequest, `target must be "kubernetes" or "docker", not ${JSON.stringify(v)}`);
}

async function releaseFor(stores: Stores, app: App, v: unknown): Promise<Release> {
  if (v !== undefined) {
    const version = Number(v);
    if (!Number.isInteger(version) || version < 1)
      throw new DomainError(ErrorCode.invalidRequest, `release must be a release version, not ${JSON.stringify(v)}`);
    return stores.releases.get(app.name, version);
  }
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
