import { BlockList, isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
// Test-only: the official Kubernetes 1.33 OpenAPI schema, as a generated model.
import { NetworkPolicy as NetworkPolicyModel } from 'kubernetes-models/networking.k8s.io/v1';
import { APP_DEFAULTS } from './app.js';
import {
  renderAppManifests,
  renderJobManifest,
  renderNetworkPolicies,
  type Deployment,
  type KubernetesSettings,
} from './k8s-manifests.js';
import {
  DEFAULT_PRIVATE_CIDRS,
  renderAppNetworkPolicy,
  renderDefaultDenyPolicy,
  type NetworkPolicy,
  type NetworkPolicyPeer,
} from './k8s-network-policies.js';

/**
 * Pure data assertions on the rendered NetworkPolicies: what they select, whom they let in, where
 * they let out, and that nothing reaches the platform's namespace. Whether a CNI enforces them is
 * for a real cluster (kubernetes-target.cluster.test.ts); what they say is decided here.
 */
const settings: KubernetesSettings = {
  namespace: 'sidecar-apps',
  platformId: 'prod',
  ingressClassName: 'nginx',
  hostPattern: '{app}.apps.example.com',
  registry: 'registry.example.com:5000',
  sidecarImages: {
    logs: `registry.example.com:5000/sidecar/log-shipper@sha256:${'33'.repeat(32)}`,
    tls: `registry.example.com:5000/sidecar/tls-terminator@sha256:${'11'.repeat(32)}`,
    procinfo: `registry.example.com:5000/sidecar/procinfo@sha256:${'22'.repeat(32)}`,
  },
};
const release = {
  version: 3,
  image: 'registry.example.com:5000/sidecar-app/shop:d_3',
  imageDigest: `sha256:${'ab'.repeat(32)}`,
  runtimeImage: 'registry.example.com:5000/sidecar/runtime-node@sha256:' + 'cd'.repeat(32),
  env: {},
  manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' } as const,
};
const shop = { name: 'shop', resources: { ...APP_DEFAULTS.resources }, secrets: {}, replicas: 2 };
const policiesOf = (app: Parameters<typeof renderAppManifests>[0]['app'], s: KubernetesSettings = settings) =>
  renderAppManifests({ app, release, settings: s }).filter((m): m is NetworkPolicy => m.kind === 'NetworkPolicy');
const appPolicy = (app: Parameters<typeof renderAppManifests>[0]['app'], s?: KubernetesSettings) =>
  policiesOf(app, s).find((p) => p.metadata.name === app.name)!;

/** Labels of the platform's own namespace as the API server sets them (and what an operator might add). */
const PLATFORM_NAMESPACE = {
  'kubernetes.io/metadata.name': 'sidecar-system',
  'app.kubernetes.io/part-of': 'sidecar-paas',
};
/** Addresses of the cluster: Redis's and the registry's pod IPs, a Service IP, a node, cloud metadata. */
const CLUSTER_ADDRESSES = ['10.244.1.17', '10.96.0.10', '172.20.3.4', '192.168.49.2', '100.64.0.9', '169.254.169.254'];
const CLUSTER_ADDRESSES_V6 = ['fd00:10:244::17', 'fe80::1', '::1', '::ffff:10.0.0.1'];
const INTERNET = ['104.16.24.34', '8.8.8.8', '2606:4700::6810:1822'];

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
/** Whether an ipBlock peer lets `address` through: inside the cidr, outside every except. */
function ipBlockAllows(peer: NetworkPolicyPeer, address: string): boolean {
  if (!peer.ipBlock) return false;
  const family = isIPv6(address) ? 'ipv6' : 'ipv4';
  const inside = (cidrs: string[]) => {
    const list = new BlockList();
    for (const c of cidrs.filter((c) => c.includes(':') === (family === 'ipv6'))) {
      const [net, bits] = c.split('/');
      list.addSubnet(net!, Number(bits), family);
    }
    return list.check(address, family);
  };
  return inside([peer.ipBlock.cidr]) && !inside(peer.ipBlock.except ?? []);
}
/** Every egress rule's peers that let `address` out, on any port. */
const egressTo = (p: NetworkPolicy, address: string) =>
  (p.spec.egress ?? []).flatMap((r) => r.to).filter((peer) => ipBlockAllows(peer, address));

describe('the default-deny policy of the apps namespace', () => {
  const deny = renderDefaultDenyPolicy(settings);

  it('selects every pod of the namespace and allows nothing, in either direction', () => {
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    expect(deny.metadata.namespace).toBe('sidecar-apps');
    expect(() => new NetworkPolicyModel(deny as never).validate()).not.toThrow();
  });

  it("is the platform's, not an app's: no app label (removing an app leaves it), a name no app can have", () => {
    expect(deny.metadata.labels).toEqual({
      'sidecar.paas/managed': 'true',
      'sidecar.paas/platform': 'prod',
      'app.kubernetes.io/managed-by': 'sidecar-paas',
    });
    expect(deny.metadata.name).toBe('sidecar.prod.default-deny');
    // App names are DNS labels (no dots): never the same name as an app's object.
    expect(deny.metadata.name).toContain('.');
  });

  it('turns any platform id into a DNS subdomain, and two ids never share a name', () => {
    const names = ['a_b', 'a-b', 'a.b', 'tail-', '_'].map(
      (platformId) => renderDefaultDenyPolicy({ ...settings, platformId }).metadata.name,
    );
    for (const n of names) expect(n).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
    expect(new Set(names).size).toBe(names.length);
    expect(names[1]).toBe('sidecar.a-b.default-deny');
  });

  it('comes first, before anything that makes a pod (the target applies in this order)', () => {
    const kinds = renderAppManifests({ app: shop, release, settings }).map((m) => m.kind);
    expect(kinds.slice(0, 2)).toEqual(['NetworkPolicy', 'NetworkPolicy']);
    expect(kinds.indexOf('Deployment')).toBeGreaterThan(1);
  });
});

describe("an app's policy", () => {
  const policy = appPolicy(shop);
  const deployment = renderAppManifests({ app: shop, release, settings }).find(
    (m): m is Deployment => m.kind === 'Deployment',
  )!;

  it("selects exactly the app's pods: its Deployment's and its jobs', no other app's", () => {
    expect(policy.metadata.name).toBe('shop');
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const selector = policy.spec.podSelector.matchLabels!;
    expect(matches(selector, deployment.spec.template.metadata.labels)).toBe(true);
    const job = renderJobManifest({ app: shop, release, settings, jobId: 'j_1', command: ['node', 'x.js'] });
    expect(matches(selector, job.spec.template.metadata.labels)).toBe(true);
    const other = renderAppManifests({ app: { ...shop, name: 'blog' }, release, settings }).find(
      (m): m is Deployment => m.kind === 'Deployment',
    )!;
    expect(matches(selector, other.spec.template.metadata.labels)).toBe(false);
    expect(() => new NetworkPolicyModel(policy as never).validate()).not.toThrow();
  });

  it("lets in only the ingress controller's namespace, on the runtime's port", () => {
    expect(policy.spec.ingress).toEqual([
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
        ports: [{ protocol: 'TCP', port: 8080 }],
      },
    ]);
  });

  it("adds the tls sidecar's 8443 while tls is on (what the Service sends to), and an ingress pod selector when set", () => {
    const tls = appPolicy(
      { ...shop, sidecars: { logs: false, procinfo: false, tls: { enabled: true } } },
      {
        ...settings,
        networkPolicy: {
          ingressFrom: {
            namespaceSelector: { 'kubernetes.io/metadata.name': 'ingress' },
            podSelector: { 'app.kubernetes.io/name': 'ingress-nginx' },
          },
          dns: { namespaceSelector: { 'kubernetes.io/metadata.name': 'kube-system' }, podSelector: { a: 'b' } },
          privateCidrs: DEFAULT_PRIVATE_CIDRS,
        },
      },
    );
    // One peer with both selectors: controller pods in that namespace (two peers would let in either).
    expect(tls.spec.ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress' } },
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
          },
        ],
        ports: [
          { protocol: 'TCP', port: 8080 },
          { protocol: 'TCP', port: 8443 },
        ],
      },
    ]);
  });

  it('lets out DNS (port 53 of the cluster DNS pods only) and the internet, nothing else', () => {
    const [dns, internet, ...rest] = policy.spec.egress!;
    expect(rest).toEqual([]);
    expect(dns).toEqual({
      to: [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
          podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
        },
      ],
      ports: [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
    });
    expect(internet!.to.every((peer) => Object.keys(peer).join() === 'ipBlock')).toBe(true);
    for (const address of INTERNET) expect(egressTo(policy, address), address).toHaveLength(1);
  });

  it("never lets out to the cluster's addresses: Redis, the registry, the API, Services, nodes, cloud metadata", () => {
    for (const address of [...CLUSTER_ADDRESSES, ...CLUSTER_ADDRESSES_V6])
      expect(egressTo(policy, address), address).toEqual([]);
  });

  it("has no rule that could reach the platform's namespace or another app: every peer is an ipBlock or a selector of another namespace", () => {
    for (const p of [
      policy,
      appPolicy({ ...shop, sidecars: { logs: true, procinfo: true, tls: { enabled: true } } }),
    ]) {
      const peers = [...(p.spec.ingress ?? []).flatMap((r) => r.from), ...(p.spec.egress ?? []).flatMap((r) => r.to)];
      for (const peer of peers) {
        if (peer.ipBlock) continue;
        // A peer without a namespace selector means this namespace (other apps); an empty one means every namespace.
        const ns = peer.namespaceSelector?.matchLabels ?? {};
        expect(Object.keys(ns).length, JSON.stringify(peer)).toBeGreaterThan(0);
        expect(matches(ns, PLATFORM_NAMESPACE), JSON.stringify(peer)).toBe(false);
        expect(matches(ns, { 'kubernetes.io/metadata.name': 'sidecar-apps' }), JSON.stringify(peer)).toBe(false);
      }
    }
  });

  it('`egress: none` lets out nothing at all, not even DNS; ingress is unchanged', () => {
    const closed = appPolicy({ ...shop, network: { egress: 'none' } });
    expect(closed.spec.policyTypes).toContain('Egress');
    expect(closed.spec.egress).toEqual([]);
    expect(closed.spec.ingress).toEqual(policy.spec.ingress);
    for (const address of INTERNET) expect(egressTo(closed, address)).toEqual([]);
  });

  it("leaves out ranges the operator adds (a cluster on public addresses), in each address's family", () => {
    const custom = appPolicy(shop, {
      ...settings,
      networkPolicy: {
        ingressFrom: { namespaceSelector: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
        dns: {
          namespaceSelector: { 'kubernetes.io/metadata.name': 'kube-system' },
          podSelector: { 'k8s-app': 'kube-dns' },
        },
        privateCidrs: [...DEFAULT_PRIVATE_CIDRS, '104.16.0.0/12', '2606:4700::/32'],
      },
    });
    for (const address of INTERNET.slice(1, 2)) expect(egressTo(custom, address)).toHaveLength(1);
    for (const address of ['104.16.24.34', '2606:4700::6810:1822']) expect(egressTo(custom, address)).toEqual([]);
    const blocks = custom.spec.egress![1]!.to.map((p) => p.ipBlock!);
    expect(blocks.find((b) => b.cidr === '0.0.0.0/0')!.except).not.toContain('2606:4700::/32');
    expect(blocks.find((b) => b.cidr === '::/0')!.except).toContain('2606:4700::/32');
  });

  it('is the same object whoever renders it: a rollout, a job (renderNetworkPolicies), `/manifests` (masked)', () => {
    const app = { ...shop, secrets: { K: 'v' }, sidecars: { logs: true, procinfo: false, tls: { enabled: true } } };
    const tls = { cert: 'CERT', key: 'KEY' };
    const applied = renderAppManifests({ app, release, settings, secretValues: 'include', tls });
    const shown = renderAppManifests({ app, release, settings });
    const forJob = renderNetworkPolicies({ app, release, settings });
    const only = (ms: { kind: string }[]) => ms.filter((m) => m.kind === 'NetworkPolicy');
    expect(only(applied)).toEqual(forJob);
    expect(only(shown)).toEqual(forJob);
  });

  it('renders directly too, with the defaults when no settings are given', () => {
    expect(renderAppNetworkPolicy({ scope: settings, app: 'shop', ports: [8080] })).toEqual(policy);
  });
});
