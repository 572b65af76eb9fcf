import { createHash } from 'node:crypto';
import type { ObjectMeta } from './k8s-types.js';
import { LABEL_PREFIX, Labels } from './labels.js';

/**
 * What every cluster object the platform renders carries: its ownership labels and where it
 * lives. Shared by the app's objects (k8s-manifests.ts) and its NetworkPolicies
 * (k8s-network-policies.ts).
 */

/** Labels beyond core's `Labels` that every cluster object carries. */
export const KubeLabels = {
  /** Which platform owns an object: several platforms may share a namespace, each touches only its own. */
  platform: `${LABEL_PREFIX}/platform`,
  name: 'app.kubernetes.io/name',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;
export const MANAGED_BY = 'sidecar-paas';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & { name: string; namespace: string };
}

/** Where the platform's objects live and whose they are. */
export interface KubeScope {
  namespace: string;
  platformId: string;
}

/** The labels that select an app's objects: owned by the platform, this platform, this app. */
export function selectorLabels(settings: Pick<KubeScope, 'platformId'>, app: string): Record<string, string> {
  return { [Labels.managed]: 'true', [KubeLabels.platform]: settings.platformId, [Labels.app]: app };
}
/** The same selector as a `labelSelector` query value. */
export const labelSelectorFor = (settings: Pick<KubeScope, 'platformId'>, app: string) =>
  Object.entries(selectorLabels(settings, app))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

/** An app's object: the app's selector labels plus the recommended `app.kubernetes.io` ones. */
export function objectMeta(scope: KubeScope, app: string, name: string, extra: Record<string, string> = {}) {
  return {
    name,
    namespace: scope.namespace,
    labels: { ...selectorLabels(scope, app), [KubeLabels.name]: app, [KubeLabels.managedBy]: MANAGED_BY, ...extra },
  };
}

/**
 * An object of the platform itself rather than of one app (it has no `sidecar.paas/app` label, so
 * removing an app, which deletes by the app's selector, never touches it). Its name has a dot, which
 * no app name has, so it never collides with an app's object: `sidecar.<platform>.<what>`. A platform
 * id is not always a DNS subdomain (`_`, a trailing `-`): such an id is made one and keeps a short
 * hash of the original, so two ids never share a name.
 */
export function platformObjectMeta(scope: KubeScope, what: string) {
  const safe = scope.platformId.replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  const id =
    safe === scope.platformId
      ? safe
      : `${safe || 'platform'}-${createHash('sha256').update(scope.platformId).digest('hex').slice(0, 6)}`;
  return {
    name: `sidecar.${id}.${what}`,
    namespace: scope.namespace,
    labels: {
      [Labels.managed]: 'true',
      [KubeLabels.platform]: scope.platformId,
      [KubeLabels.managedBy]: MANAGED_BY,
    },
  };
}
