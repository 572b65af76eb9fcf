import type { Backend, BackendDeps } from './backend.js';
import { createDockerBackend } from './docker/backend.js';
import { createKubernetesBackend } from './kubernetes/backend.js';

export type { Backend, BackendDeps, BackgroundPart } from './backend.js';

/** The one place the worker chooses where apps run (SIDECAR_TARGET). */
export function createBackend(deps: BackendDeps): Promise<Backend> {
  switch (deps.config.SIDECAR_TARGET) {
    case 'docker':
      return createDockerBackend(deps);
    case 'kubernetes':
      return createKubernetesBackend(deps);
  }
}
