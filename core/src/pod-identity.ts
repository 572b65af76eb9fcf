import type { Pod } from './k8s-types.js';
import { Labels } from './labels.js';
import type { PodSecrets } from './platform-sidecars.js';

/** What names a release inside a pod; a pod taken back by a rollback keeps its own. */
const RELEASE_ENV = 'SIDECAR_RELEASE';

export interface FingerprintOptions {
  /** The pod's Secret data (renderPodSecrets: the TLS sidecar's certificate and key, written as files). */
  secrets: PodSecrets;
  /**
   * Leave the secrets out: the platform CA issues the certificate anew for every rollout of an app that
   * brings none, and any two of them serve the same host name.
   */
  ignoreIssuedTls: boolean;
}

/**
 * Pure: what makes two pods of an app interchangeable — the whole rendered pod (images, env, secrets,
 * resources, sidecars, probes) except what only names its release: the pod name, the release label and
 * `SIDECAR_RELEASE`. A rollback (a new release copying an older one's images and env) renders pods with
 * the fingerprint of that older release's pods, so warm pods of it can serve the new release as they are.
 */
export function podFingerprint(pod: Pod, opts: FingerprintOptions): string {
  const { [Labels.release]: _release, [Labels.pod]: _pod, ...labels } = pod.metadata.labels ?? {};
  const containers = (list: Pod['spec']['containers'] | undefined) =>
    (list ?? []).map((c) => ({ ...c, env: (c.env ?? []).filter((e) => e.name !== RELEASE_ENV) }));
  return JSON.stringify({
    labels: Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)),
    spec: {
      ...pod.spec,
      initContainers: containers(pod.spec.initContainers),
      containers: containers(pod.spec.containers),
    },
    secrets: opts.ignoreIssuedTls ? {} : opts.secrets,
  });
}
