import type { Backend, BackendDeps } from './backend.js';

export type { Backend, BackendDeps, BackgroundPart } from './backend.js';

/**
 * The one place the worker chooses where apps run (SIDECAR_TARGET). Each backend is loaded only when
 * chosen: the Kubernetes client alone is tens of MiB of a worker's resident memory on a Docker host.
 */
export async function createBackend(deps: BackendDeps): Promise<Backend> {
  switch (deps.config.SIDECAR_TARGET) {
    case 'docker':
      return (await import('./docker/backend.js')).createDockerBackend(deps);
    case 'kubernetes':
      return (await import('./kubernetes/backend.js')).createKubernetesBackend(deps);
  }
}
