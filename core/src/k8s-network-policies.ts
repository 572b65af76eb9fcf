import { APP_DEFAULTS, Egress, type NetworkSettings } from './app.js';
import { objectMeta, platformObjectMeta, selectorLabels, type KubeObject, type KubeScope } from './k8s-meta.js';

/**
 * The NetworkPolicies of the apps namespace, rendered with an app's other objects and applied
 * before its Deployment, so no pod of the platform ever runs unisolated:
 * - `sidecar.<platform>.default-deny`: selects every pod of the namespace and allows nothing, in
 *   either direction. A pod no other policy selects (a job's, a stray one) reaches nothing and is
 *   reached by nothing.
 * - `<app>`: the app's pods accept connections only from the ingress controller (its namespace, and
 *   pods if set) on the ports the app's Service exposes; they connect only to the cluster DNS and to
 *   addresses outside the private ranges (`internet`, the default), or to nothing (`none`).
 * Nothing here names the platform's namespace: Redis, the registry and the API have private
 * (cluster) addresses, which the internet rule leaves out. A CNI must enforce NetworkPolicies for
 * any of this to hold (docs/kubernetes.md). Pure: the target applies these, `/manifests` shows them.
 */

/** A `matchLabels` selector; `{}` selects everything. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
}
export interface IPBlock {
  cidr: string;
  except?: string[];
}
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}
export interface NetworkPolicyPort {
  protocol: 'TCP' | 'UDP';
  port: number;
}
export interface NetworkPolicy extends KubeObject {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  spec: {
    podSelector: LabelSelector;
    policyTypes: ('Ingress' | 'Egress')[];
    ingress?: { from: NetworkPolicyPeer[]; ports: NetworkPolicyPort[] }[];
    egress?: { to: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
  };
}

/** Who may reach app pods, where DNS is, and which addresses are the cluster's, not the internet. */
export interface NetworkPolicySettings {
  /** The ingress controller: the only peer that may connect to app pods. */
  ingressFrom: { namespaceSelector: Record<string, string>; podSelector?: Record<string, string> };
  /** The cluster DNS, the only in-cluster destination an app with egress `internet` reaches (port 53). */
  dns: { namespaceSelector: Record<string, string>; podSelector: Record<string, string> };
  /** Ranges the internet rule leaves out: the cluster's pod, service and node networks, cloud metadata. */
  privateCidrs: readonly string[];
}

/**
 * Private, shared (CGNAT), link-local (cloud metadata at 169.254.169.254), loopback and
 * "this network" ranges, and their IPv6 counterparts (unique local, link-local, loopback,
 * IPv4-mapped). Cluster networks are almost always inside these; a cluster whose pods, services
 * or nodes use public addresses must add them (SIDECAR_K8S_PRIVATE_CIDRS).
 */
export const DEFAULT_PRIVATE_CIDRS = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '::1/128',
  '::ffff:0:0/96',
  'fc00::/7',
  'fe80::/10',
] as const;

export const DEFAULT_NETWORK_POLICY_SETTINGS: NetworkPolicySettings = {
  ingressFrom: { namespaceSelector: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
  dns: {
    namespaceSelector: { 'kubernetes.io/metadata.name': 'kube-system' },
    podSelector: { 'k8s-app': 'kube-dns' },
  },
  privateCidrs: DEFAULT_PRIVATE_CIDRS,
};

const DNS_PORT = 53;
const isIpv6 = (cidr: string) => cidr.includes(':');

/** `0.0.0.0/0` and `::/0`, each without the private ranges of its family. */
export function internetPeers(privateCidrs: readonly string[]): NetworkPolicyPeer[] {
  return [
    { cidr: '0.0.0.0/0', except: privateCidrs.filter((c) => !isIpv6(c)) },
    { cidr: '::/0', except: privateCidrs.filter(isIpv6) },
  ].map(({ cidr, except }) => ({ ipBlock: except.length > 0 ? { cidr, except } : { cidr } }));
}

/** The platform's default-deny policy of the namespace: every pod, no traffic either way. */
export function renderDefaultDenyPolicy(scope: KubeScope): NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: platformObjectMeta(scope, 'default-deny'),
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  };
}

/** What the app's policy allows: in from the ingress controller on `ports`, out as `network.egress` says. */
export function renderAppNetworkPolicy(input: {
  scope: KubeScope;
  app: string;
  network?: NetworkSettings | undefined;
  /** The TCP ports the app's Service sends to (the runtime's 8080, a platform sidecar's 8443). */
  ports: readonly number[];
  settings?: NetworkPolicySettings | undefined;
}): NetworkPolicy {
  const settings = input.settings ?? DEFAULT_NETWORK_POLICY_SETTINGS;
  const egress = input.network?.egress ?? APP_DEFAULTS.network.egress;
  const { namespaceSelector, podSelector } = settings.ingressFrom;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: objectMeta(input.scope, input.app, input.app),
    spec: {
      podSelector: { matchLabels: selectorLabels(input.scope, input.app) },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          // Namespace and pod selector in one peer: pods matching both (a peer per selector would allow either).
          from: [
            {
              namespaceSelector: { matchLabels: { ...namespaceSelector } },
              ...(podSelector ? { podSelector: { matchLabels: { ...podSelector } } } : {}),
            },
          ],
          ports: [...new Set(input.ports)].map((port) => ({ protocol: 'TCP' as const, port })),
        },
      ],
      egress:
        egress === Egress.none
          ? []
          : [
              {
                to: [
                  {
                    namespaceSelector: { matchLabels: { ...settings.dns.namespaceSelector } },
                    podSelector: { matchLabels: { ...settings.dns.podSelector } },
                  },
                ],
                ports: [
                  { protocol: 'UDP', port: DNS_PORT },
                  { protocol: 'TCP', port: DNS_PORT },
                ],
              },
              { to: internetPeers(settings.privateCidrs) },
            ],
    },
  };
}
