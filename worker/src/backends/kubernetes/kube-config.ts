import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * The cluster to talk to: `KUBECONFIG` (a file, or several joined by ':') when set, else
 * `~/.kube/config`, else the in-cluster ServiceAccount (the worker runs as a pod).
 * Throws, naming what is missing, when there is none.
 */
export function loadKubeConfig(env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  const home = join(homedir(), '.kube', 'config');
  if (!env.KUBECONFIG && !env.KUBERNETES_SERVICE_HOST && !existsSync(home)) {
    throw new Error(
      'SIDECAR_TARGET=kubernetes needs a cluster: set KUBECONFIG, run the worker in a pod (in-cluster config), or provide ~/.kube/config',
    );
  }
  // loadFromDefault reads KUBECONFIG first, then ~/.kube/config, then the in-cluster token.
  kc.loadFromDefault();
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new Error(`no current cluster in the Kubernetes configuration (context "${kc.getCurrentContext()}")`);
  return kc;
}
