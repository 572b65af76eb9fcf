import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';

/** What the target reads of any object it applies, lists or deletes. */
export interface ObjectHead {
  metadata?: {
    name?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    generation?: number;
    resourceVersion?: string;
  };
}

/**
 * The kinds the target manages, in the order an app's objects are removed: traffic first, data
 * last, and its NetworkPolicy only once its pods are gone (a terminating pod stays isolated).
 */
export const ManagedKinds = ['Ingress', 'Service', 'Deployment', 'Job', 'Secret', 'NetworkPolicy'] as const;
export type ManagedKind = (typeof ManagedKinds)[number];

export interface KindOps {
  /** Resource name for messages and RBAC: `deployments.apps`. */
  resource: string;
  read(name: string): Promise<ObjectHead>;
  /** Server-side apply: PATCH with `application/apply-patch+yaml`, our field manager, force. */
  apply(name: string, body: object): Promise<ObjectHead>;
  list(labelSelector: string): Promise<{ items: ObjectHead[] }>;
  /** Deletes exactly the object listed (uid precondition); dependents (ReplicaSets, pods) go in the background. */
  remove(name: string, uid: string): Promise<unknown>;
}

/**
 * One typed client call per verb and kind, all in one namespace. Apply uses the
 * generated PATCH call with the content type switched to server-side apply
 * (`setHeaderOptions`); the body goes as JSON, which is YAML.
 */
export function kindOps(kc: KubeConfig, namespace: string, fieldManager: string): Record<ManagedKind, KindOps> {
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const net = kc.makeApiClient(NetworkingV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const ssa = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  const applyArgs = (name: string, body: object) => ({ name, namespace, body, fieldManager, force: true });
  const deleteArgs = (name: string, uid: string) => ({
    name,
    namespace,
    propagationPolicy: 'Background',
    body: { preconditions: { uid } },
  });
  const listArgs = (labelSelector: string) => ({ namespace, labelSelector });
  return {
    Deployment: {
      resource: 'deployments.apps',
      read: (name) => apps.readNamespacedDeployment({ name, namespace }),
      apply: (name, body) => apps.patchNamespacedDeployment(applyArgs(name, body), ssa),
      list: (s) => apps.listNamespacedDeployment(listArgs(s)),
      remove: (name, uid) => apps.deleteNamespacedDeployment(deleteArgs(name, uid)),
    },
    Service: {
      resource: 'services',
      read: (name) => core.readNamespacedService({ name, namespace }),
      apply: (name, body) => core.patchNamespacedService(applyArgs(name, body), ssa),
      list: (s) => core.listNamespacedService(listArgs(s)),
      remove: (name, uid) => core.deleteNamespacedService(deleteArgs(name, uid)),
    },
    Ingress: {
      resource: 'ingresses.networking.k8s.io',
      read: (name) => net.readNamespacedIngress({ name, namespace }),
      apply: (name, body) => net.patchNamespacedIngress(applyArgs(name, body), ssa),
      list: (s) => net.listNamespacedIngress(listArgs(s)),
      remove: (name, uid) => net.deleteNamespacedIngress(deleteArgs(name, uid)),
    },
    NetworkPolicy: {
      resource: 'networkpolicies.networking.k8s.io',
      read: (name) => net.readNamespacedNetworkPolicy({ name, namespace }),
      apply: (name, body) => net.patchNamespacedNetworkPolicy(applyArgs(name, body), ssa),
      list: (s) => net.listNamespacedNetworkPolicy(listArgs(s)),
      remove: (name, uid) => net.deleteNamespacedNetworkPolicy(deleteArgs(name, uid)),
    },
    Secret: {
      resource: 'secrets',
      read: (name) => core.readNamespacedSecret({ name, namespace }),
      apply: (name, body) => core.patchNamespacedSecret(applyArgs(name, body), ssa),
      list: (s) => core.listNamespacedSecret(listArgs(s)),
      remove: (name, uid) => core.deleteNamespacedSecret(deleteArgs(name, uid)),
    },
    Job: {
      resource: 'jobs.batch',
      read: (name) => batch.readNamespacedJob({ name, namespace }),
      apply: (name, body) => batch.patchNamespacedJob(applyArgs(name, body), ssa),
      list: (s) => batch.listNamespacedJob(listArgs(s)),
      remove: (name, uid) => batch.deleteNamespacedJob(deleteArgs(name, uid)),
    },
  };
}
