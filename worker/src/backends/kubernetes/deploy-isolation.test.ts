import { X509Certificate } from 'node:crypto';
import { DEFAULT_PRIVATE_CIDRS, type NetworkPolicy, type NetworkPolicyPeer } from '@sidecar/core';
import { checkManifest } from '@sidecar/k8s-schema';
import { describe, expect, it } from 'vitest';
import {
  configMapData,
  containerOf,
  createSecrets,
  deployDoc,
  deployDocs,
  type ContainerDoc,
  type Doc,
} from './deploy-manifests.js';

/**
 * What `deploy/kubernetes/` isolates, as data: who may connect to Redis, the registry and the build
 * engine, where the builder (which runs users' `npm install`s) may connect to, that the only privileged
 * container is that engine, and that no credential is in a committed file. The programs themselves are
 * run with these settings in deploy-redis.test.ts, deploy-registry.test.ts and deploy-builder.test.ts.
 */
const docs = deployDocs().map(({ doc }) => doc);
const policy = (name: string) => deployDoc('NetworkPolicy', name) as unknown as NetworkPolicy;
const podLabels = (kind: string, name: string) => deployDoc(kind, name).spec!.template!.metadata!.labels!;
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
/** The platform's pods, by the labels their templates give them. */
const PODS = {
  api: podLabels('Deployment', 'api'),
  worker: podLabels('Deployment', 'worker'),
  builder: podLabels('Deployment', 'builder'),
  redis: podLabels('StatefulSet', 'redis'),
  registry: podLabels('Deployment', 'registry'),
};
/** The policies of the platform namespace that select a pod, and the pods of this namespace their ingress peers admit. */
const policiesOf = (labels: Record<string, string>) =>
  docs
    .filter((d) => d.kind === 'NetworkPolicy')
    .map((d) => d as unknown as NetworkPolicy)
    .filter((p) => selects(p.spec.podSelector.matchLabels, labels));
function admits(target: keyof typeof PODS, from: keyof typeof PODS, port: number): boolean {
  return policiesOf(PODS[target])
    .flatMap((p) => p.spec.ingress ?? [])
    .some(
      (rule) =>
        (rule.ports ?? []).some((p) => p.port === port) &&
        ((rule.from as NetworkPolicyPeer[] | undefined) === undefined ||
          rule.from.some((peer) => !peer.namespaceSelector && selects(peer.podSelector?.matchLabels, PODS[from]))),
    );
}
const containers = (d: Doc): ContainerDoc[] => [
  ...(d.spec?.template?.spec.initContainers ?? []),
  ...(d.spec?.template?.spec.containers ?? []),
];

describe('the platform namespace: who may connect to what', () => {
  it('every pod is selected by the default-deny ingress policy', () => {
    expect(policy('default-deny-ingress').spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
  });

  it('Redis: only the api and the worker, on 6379; not the builder, not the registry', () => {
    expect(admits('redis', 'api', 6379)).toBe(true);
    expect(admits('redis', 'worker', 6379)).toBe(true);
    expect(admits('redis', 'builder', 6379)).toBe(false);
    expect(admits('redis', 'registry', 6379)).toBe(false);
    // No peer of another namespace, no ipBlock: nothing outside this namespace's api and worker.
    const peers = policiesOf(PODS.redis).flatMap((p) => (p.spec.ingress ?? []).flatMap((r) => r.from));
    expect(peers.every((peer) => Object.keys(peer).join() === 'podSelector')).toBe(true);
  });

  it('the build engine: only the worker, on 2376', () => {
    expect(admits('builder', 'worker', 2376)).toBe(true);
    for (const other of ['api', 'redis', 'registry'] as const) expect(admits('builder', other, 2376)).toBe(false);
  });

  it('the worker: nobody (it serves nothing)', () => {
    expect(policiesOf(PODS.worker).flatMap((p) => p.spec.ingress ?? [])).toEqual([]);
  });
});

describe("the builder's network: DNS, the registry and the internet, nothing else of the platform", () => {
  const builder = policy('builder');
  const egress = builder.spec.egress!;

  it('isolates the builder for egress, with exactly three rules', () => {
    expect(builder.spec.policyTypes).toContain('Egress');
    expect(egress).toHaveLength(3);
  });

  it('reaches in this namespace only the registry, on 5000', () => {
    const local = egress.flatMap((r) => r.to.filter((p) => p.podSelector && !p.namespaceSelector).map((p) => [p, r]));
    expect(local).toHaveLength(1);
    const [[peer, rule]] = local as [[NetworkPolicyPeer, (typeof egress)[number]]];
    expect(selects(peer.podSelector!.matchLabels, PODS.registry)).toBe(true);
    for (const other of ['redis', 'api', 'worker', 'builder'] as const)
      expect(selects(peer.podSelector!.matchLabels, PODS[other]), other).toBe(false);
    expect(rule.ports).toEqual([{ protocol: 'TCP', port: 5000 }]);
  });

  it('reaches another namespace only for DNS, on port 53', () => {
    const dns = egress.filter((r) => r.to.some((p) => p.namespaceSelector));
    expect(dns).toHaveLength(1);
    expect(dns[0]!.to).toEqual([
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
        podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
      },
    ]);
    expect(dns[0]!.ports!.map((p) => p.port)).toEqual([53, 53]);
  });

  it('reaches the internet without the private ranges: the same ones the apps leave out by default', () => {
    const blocks = egress.flatMap((r) => r.to.filter((p) => p.ipBlock).map((p) => p.ipBlock!));
    expect(blocks.map((b) => b.cidr)).toEqual(['0.0.0.0/0', '::/0']);
    expect(blocks.flatMap((b) => b.except ?? [])).toEqual([...DEFAULT_PRIVATE_CIDRS]);
  });
});

describe('the privileged build engine is alone in its pod and speaks only TLS', () => {
  it("the only privileged container is the builder's dockerd; the worker has no engine and no privilege", () => {
    const privileged = docs.flatMap((d) =>
      containers(d)
        .filter((c) => c.securityContext?.privileged === true)
        .map((c) => `${d.metadata.name}/${c.name}`),
    );
    expect(privileged).toEqual(['builder/dockerd']);
    const worker = deployDoc('Deployment', 'worker');
    expect(containers(worker).map((c) => c.name)).toEqual(['worker']);
    expect(containerOf(worker, 'worker').securityContext).toMatchObject({ allowPrivilegeEscalation: false });
  });

  it('dockerd listens only on TCP with client certificates required (--tlsverify), never on a plain port or socket', () => {
    const args = containerOf(deployDoc('Deployment', 'builder'), 'dockerd').args!;
    expect(args[0]).toBe('dockerd');
    expect(args.filter((a) => a.startsWith('--host') || a.startsWith('-H'))).toEqual(['--host=tcp://0.0.0.0:2376']);
    expect(args).toContain('--tlsverify');
  });

  it('the worker reaches it over TCP with its client certificate from a Secret', () => {
    const worker = deployDoc('Deployment', 'worker');
    const env = Object.fromEntries((containerOf(worker, 'worker').env ?? []).map((e) => [e.name, e]));
    expect(env.SIDECAR_DOCKER_HOST?.value).toBe('tcp://builder.sidecar-system.svc.cluster.local:2376');
    const dir = env.SIDECAR_DOCKER_TLS_DIR!.value!;
    const mount = containerOf(worker, 'worker').volumeMounts!.find((m) => m.mountPath === dir)!;
    expect(worker.spec!.template!.spec.volumes).toContainEqual(
      expect.objectContaining({
        name: mount.name,
        secret: expect.objectContaining({ secretName: 'sidecar-builder-client-tls' }),
      }),
    );
  });

  it('the builder gets no API token and only the two data folders builds use (not the keys, the CA, the bundles)', () => {
    const builder = deployDoc('Deployment', 'builder');
    expect(builder.spec!.template!.spec).toMatchObject({ automountServiceAccountToken: false });
    const data = containerOf(builder, 'dockerd').volumeMounts!.filter((m) => m.name === 'data');
    expect(data.map((m) => [m.mountPath, m.subPath])).toEqual([
      ['/data/builds', 'builds'],
      ['/data/npm-cache', 'npm-cache'],
    ]);
  });
});

describe('no credential in a committed file', () => {
  it('the shared ConfigMap holds no Redis URL, password or token', () => {
    const settings = deployDoc('ConfigMap', 'sidecar-settings').data!;
    expect(Object.keys(settings).filter((k) => /REDIS_URL|PASSWORD|TOKEN|SECRET_KEY/.test(k))).toEqual([]);
  });

  it('the api and the worker build SIDECAR_REDIS_URL from the Secret sidecar-redis, defined before it', () => {
    for (const name of ['api', 'worker']) {
      const env = containerOf(deployDoc('Deployment', name), name).env!;
      const url = env.findIndex((e) => e.name === 'SIDECAR_REDIS_URL');
      const password = env.findIndex((e) => e.name === 'REDIS_PASSWORD');
      expect(env[password]!.valueFrom).toEqual({ secretKeyRef: { name: 'sidecar-redis', key: 'password' } });
      expect(password).toBeLessThan(url);
      expect(env[url]!.value).toBe('redis://:$(REDIS_PASSWORD)@redis.sidecar-system.svc.cluster.local:6379');
    }
  });

  it('every other value that is a credential comes from a Secret', () => {
    for (const d of docs)
      for (const c of containers(d))
        for (const e of c.env ?? [])
          if (/PASSWORD|TOKEN|REDISCLI_AUTH|USERNAME/.test(e.name))
            expect(e.valueFrom?.secretKeyRef, `${d.metadata.name}/${c.name} ${e.name}`).toBeDefined();
  });

  it('the registry asks for credentials (htpasswd from a Secret) and takes no Service variables as configuration', () => {
    const registry = deployDoc('Deployment', 'registry');
    const c = containerOf(registry, 'registry');
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    expect(env.REGISTRY_AUTH).toBe('htpasswd');
    const path = env.REGISTRY_AUTH_HTPASSWD_PATH!;
    const mount = c.volumeMounts!.find((m) => path.startsWith(`${m.mountPath}/`))!;
    expect(registry.spec!.template!.spec.volumes).toContainEqual({
      name: mount.name,
      secret: { secretName: 'sidecar-registry-auth' },
    });
    expect(registry.spec!.template!.spec).toMatchObject({ enableServiceLinks: false });
  });
});

describe('create-secrets.sh makes every Secret the manifests read, and nothing that could mint more', () => {
  const { values, manifests } = createSecrets();

  it('each passes the 1.33 schema, in the namespace its readers are in', () => {
    for (const m of manifests) expect(() => checkManifest(m), m.metadata.name).not.toThrow();
    const pull = manifests.find(
      (m) => m.metadata.name === configMapData('sidecar-settings').SIDECAR_K8S_IMAGE_PULL_SECRET,
    )!;
    expect(pull).toMatchObject({ metadata: { namespace: 'sidecar-apps' }, type: 'kubernetes.io/dockerconfigjson' });
  });

  it('every Secret key an env var or a volume of deploy/kubernetes refers to is made', () => {
    const made = new Set(Object.keys(values));
    for (const d of docs) {
      for (const c of containers(d))
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref) expect(made, `${d.metadata.name}/${c.name} ${e.name}`).toContain(`${ref.name}/${ref.key}`);
        }
      for (const v of (d.spec?.template?.spec.volumes ?? []) as { secret?: { secretName: string } }[])
        if (v.secret)
          expect(
            [...made].some((k) => k.startsWith(`${v.secret!.secretName}/`)),
            v.secret.secretName,
          ).toBe(true);
    }
  });

  it("the build engine's certificate names its Service; the worker's is a client certificate of the same CA; no CA key is kept", () => {
    const server = new X509Certificate(values['sidecar-builder-tls/cert.pem']!);
    const client = new X509Certificate(values['sidecar-builder-client-tls/cert.pem']!);
    const ca = new X509Certificate(values['sidecar-builder-tls/ca.pem']!);
    expect(server.subjectAltName).toContain('DNS:builder.sidecar-system.svc.cluster.local');
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(server.verify(ca.publicKey) && client.verify(ca.publicKey)).toBe(true);
    expect(values['sidecar-builder-client-tls/ca.pem']).toBe(values['sidecar-builder-tls/ca.pem']);
    const keys = Object.entries(values).filter(([, v]) => v.includes('PRIVATE KEY'));
    expect(keys.map(([k]) => k).sort()).toEqual(['sidecar-builder-client-tls/key.pem', 'sidecar-builder-tls/key.pem']);
  });

  it('makes new values each run (nothing shared between installations)', () => {
    const again = createSecrets().values;
    for (const key of ['sidecar-redis/password', 'sidecar-registry/password', 'sidecar-admin/token'])
      expect(again[key], key).not.toBe(values[key]);
  });
});
