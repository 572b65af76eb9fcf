import { describe, expect, it } from 'vitest';
import { podFingerprint } from './pod-identity.js';
import type { PodSecrets } from './platform-sidecars.js';
import { podNameFor, renderPod, renderPodSecrets, type RenderInput } from './pod-template.js';

const app = {
  name: 'hello',
  resources: { memory: '256Mi', cpu: '500m' },
  secrets: { DB_PASSWORD: 'pw' },
  sidecars: { logs: true, procinfo: false, tls: { enabled: true } },
};
const v1 = {
  version: 1,
  image: 'sidecar-app/hello:d_1',
  runtimeImage: 'sidecar/runtime-node:abc',
  env: { GREETING: 'a' },
  manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' } as const,
};
const images = { logs: 'sidecar/log-shipper:1', tls: 'sidecar/tls:1', procinfo: 'sidecar/procinfo:1' };
const cert = (n: number) => ({
  cert: `-----BEGIN CERTIFICATE-----\n${n}\n-----END CERTIFICATE-----`,
  key: `-----BEGIN PRIVATE KEY-----\n${n}\n-----END PRIVATE KEY-----`,
});
const render = (o: Partial<RenderInput> & { version?: number; tls?: number }) => {
  const input = {
    app: o.app ?? app,
    release: { ...v1, ...o.release, version: o.version ?? 1 },
    podName: podNameFor('hello', o.version ?? 1, 'abcde'),
    platformSidecars: { images, tls: cert(o.tls ?? 1) },
  };
  return { pod: renderPod(input), secrets: renderPodSecrets(input) };
};
const fp = (input: { pod: ReturnType<typeof renderPod>; secrets: PodSecrets }, ignoreIssuedTls = false) =>
  podFingerprint(input.pod, { secrets: input.secrets, ignoreIssuedTls });

describe('podFingerprint: when a warm pod may serve another release', () => {
  it('is the same for a release that copies an older one (a rollback): only the release name differs', () => {
    const rollback = render({ version: 7 });
    expect(rollback.pod.metadata.name).not.toBe(render({}).pod.metadata.name);
    expect(fp(rollback)).toBe(fp(render({})));
  });

  it('differs when anything the pod is made from differs', () => {
    const base = fp(render({}));
    expect(fp(render({ release: { ...v1, env: { GREETING: 'b' } } }))).not.toBe(base);
    expect(fp(render({ release: { ...v1, image: 'sidecar-app/hello:d_2' } }))).not.toBe(base);
    expect(fp(render({ release: { ...v1, runtimeImage: 'sidecar/runtime-node:def' } }))).not.toBe(base);
    expect(fp(render({ app: { ...app, secrets: { DB_PASSWORD: 'other' } } }))).not.toBe(base);
    expect(fp(render({ app: { ...app, resources: { memory: '512Mi', cpu: '500m' } } }))).not.toBe(base);
    expect(fp(render({ app: { ...app, sidecars: { ...app.sidecars, logs: false } } }))).not.toBe(base);
  });

  it('leaves a platform-issued TLS certificate out only when asked (the app brings none)', () => {
    expect(fp(render({ tls: 2 }), true)).toBe(fp(render({ tls: 1 }), true));
    expect(fp(render({ tls: 2 }))).not.toBe(fp(render({ tls: 1 })));
  });
});
