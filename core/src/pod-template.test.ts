import { describe, expect, it } from 'vitest';
import type { Sidecars } from './app.js';
import { Labels } from './labels.js';
import { enabledSidecars, LOG_SHIPPER } from './platform-sidecars.js';
import {
  DEFAULT_TEMPLATE_SETTINGS,
  LOADER_PORT,
  podNameFor,
  renderJobPod,
  renderPod,
  renderPodSecrets,
  RESTRICTED,
} from './pod-template.js';
import { validatePod } from './pod-validation.js';
import { NODE_TRUST_OPTION } from './node-trust.js';

const app = { name: 'hello', resources: { memory: '256Mi', cpu: '500m' }, secrets: { DB_PASSWORD: 'pw' } };
const release = {
  version: 3,
  image: 'sidecar-app/hello:d_1',
  runtimeImage: 'sidecar/runtime-node:abc',
  env: { B: '2', A: '1' },
  manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' } as const,
};

describe('renderPod: the one pod template', () => {
  const pod = renderPod({ app, release, podName: podNameFor('hello', 3, 'x1y2z') });

  it('puts the logic in a native sidecar (init container, restartPolicy Always) gated by a startup probe (the marker of an older loader)', () => {
    const [logic] = pod.spec.initContainers!;
    expect(logic).toMatchObject({
      name: 'app',
      image: 'sidecar-app/hello:d_1',
      restartPolicy: 'Always',
      volumeMounts: [{ name: 'workspace', mountPath: '/workspace' }],
      startupProbe: { exec: { command: ['test', '-f', '/workspace/.ready'] }, successThreshold: 1 },
    });
  });

  it('probes a loader that listens (a release built from a base with a loader port) with a TCP connect, not an exec', () => {
    const listening = renderPod({ app, release: { ...release, loaderPort: LOADER_PORT }, podName: 'hello-v3-x1y2z' });
    const [logic] = listening.spec.initContainers!;
    expect(logic!.startupProbe).toEqual({
      tcpSocket: { port: 8079 },
      periodSeconds: 1,
      failureThreshold: 60,
      successThreshold: 1,
    });
    expect(() => validatePod(listening)).not.toThrow();
  });

  it('runs the stable runtime as the main container, reading the workspace read-only, ready only when the logic loaded', () => {
    const [runtime] = pod.spec.containers;
    expect(runtime).toMatchObject({
      name: 'runtime',
      image: 'sidecar/runtime-node:abc',
      volumeMounts: [{ name: 'workspace', mountPath: '/workspace', readOnly: true }],
      ports: [{ containerPort: 8080 }],
      readinessProbe: { httpGet: { path: '/__sidecar/ready', port: 8080 } },
      resources: { limits: { memory: '256Mi', cpu: '500m' } },
    });
    expect(runtime!.restartPolicy).toBeUndefined();
  });

  it('gives the runtime env, secrets and identity, sorted, platform values last-wins', () => {
    expect(pod.spec.containers[0]!.env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
      { name: 'DB_PASSWORD', value: 'pw' },
      { name: 'PORT', value: '8080' },
      { name: 'SIDECAR_APP', value: 'hello' },
      { name: 'SIDECAR_RELEASE', value: '3' },
    ]);
    // The logic sidecar never sees secrets.
    expect(JSON.stringify(pod.spec.initContainers)).not.toContain('pw');
  });

  it("keeps Node's trusted CAs under an app's NODE_OPTIONS (node-trust.ts), in the runtime and in jobs", () => {
    const runtimeEnv = renderPod({
      app,
      release: { ...release, env: { ...release.env, NODE_OPTIONS: '--max-old-space-size=64' } },
      podName: podNameFor('hello', 3, 'x1y2z'),
    }).spec.containers[0]!.env;
    expect(runtimeEnv).toContainEqual({ name: 'NODE_OPTIONS', value: `${NODE_TRUST_OPTION} --max-old-space-size=64` });
    const job = renderJobPod({
      app,
      release: { ...release, env: { ...release.env, Z: '$(A)' } },
      podName: podNameFor('hello', 3, 'j0b00'),
      command: ['node', 'x.js'],
      env: { NODE_OPTIONS: '--inspect' },
    });
    // The job's variables after the runtime's, as before (a Kubernetes `$(A)` sees only those before it).
    expect(job.spec.containers[0]!.env!.map((e) => e.name)).toEqual([
      'A',
      'B',
      'DB_PASSWORD',
      'PORT',
      'SIDECAR_APP',
      'SIDECAR_RELEASE',
      'Z',
      'NODE_OPTIONS',
    ]);
    expect(job.spec.containers[0]!.env).toContainEqual({
      name: 'NODE_OPTIONS',
      value: `${NODE_TRUST_OPTION} --inspect`,
    });
  });

  it('runs every container unprivileged', () => {
    for (const c of [...pod.spec.initContainers!, ...pod.spec.containers]) {
      expect(c.securityContext).toMatchObject({
        runAsUser: 1000,
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      expect(c.resources?.limits?.memory).toBeDefined();
    }
  });

  it("labels the pod as the platform's own", () => {
    expect(pod.metadata).toEqual({
      name: 'hello-v3-x1y2z',
      labels: {
        [Labels.managed]: 'true',
        [Labels.app]: 'hello',
        [Labels.release]: '3',
        [Labels.pod]: 'hello-v3-x1y2z',
      },
    });
  });

  it('checks a process-mode app by its port, since the app owns it', () => {
    const p = renderPod({
      app,
      release: { ...release, manifest: { runtime: 'node', mode: 'process', start: 'node s.js' } },
      podName: 'p',
    });
    expect(p.spec.containers[0]!.readinessProbe).toMatchObject({ tcpSocket: { port: 8080 } });
    expect(p.spec.containers[0]!.readinessProbe!.httpGet).toBeUndefined();
  });
});

describe('renderJobPod', () => {
  const job = renderJobPod({
    app,
    release,
    podName: 'hello-job-abcde',
    command: ['node', 'task.js'],
    env: { CODE: '3', A: 'job wins' },
  });

  it('keeps the logic sidecar first and runs the command once in the bundle folder', () => {
    expect(job.spec.restartPolicy).toBe('Never');
    expect(job.spec.initContainers![0]).toMatchObject({ name: 'app', restartPolicy: 'Always' });
    const [main] = job.spec.containers;
    expect(main!.command).toEqual(['sh', '-c', 'cd /workspace/current && exec "$@"', 'job', 'node', 'task.js']);
    expect(main!.readinessProbe).toBeUndefined();
    expect(main!.ports).toBeUndefined();
    expect(job.metadata.labels![Labels.kind]).toBe('job');
  });

  it('gives the command the app env with the job env on top', () => {
    const env = Object.fromEntries(job.spec.containers[0]!.env!.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ A: 'job wins', B: '2', CODE: '3', DB_PASSWORD: 'pw', SIDECAR_APP: 'hello' });
  });
});

describe('renderPod: platform sidecars', () => {
  const images = { logs: 'sidecar/log-shipper:l1', tls: 'sidecar/tls-terminator:t1', procinfo: 'sidecar/procinfo:p1' };
  const tls = {
    cert: '-----BEGIN CERTIFICATE-----\nc\n-----END CERTIFICATE-----\n',
    key: '-----BEGIN PRIVATE KEY-----\nk\n-----END PRIVATE KEY-----\n',
  };
  const both = { logs: true, procinfo: true, tls: { enabled: true } };
  const pod = renderPod({ app: { ...app, sidecars: both }, release, podName: 'p', platformSidecars: { images, tls } });

  it('adds them as native sidecars in the fixed order logs, app (the logic), tls, procinfo', () => {
    expect(pod.spec.initContainers!.map((c) => [c.name, c.image, c.restartPolicy])).toEqual([
      ['logs', images.logs, 'Always'],
      ['app', 'sidecar-app/hello:d_1', 'Always'],
      ['tls', images.tls, 'Always'],
      ['procinfo', images.procinfo, 'Always'],
    ]);
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['runtime']);
  });

  it('limits each and runs each restricted, as a user of its own (never the app user)', () => {
    const [l, , t, p] = pod.spec.initContainers!;
    expect(l!.resources).toEqual({ limits: { memory: '16Mi', cpu: '100m' } });
    expect(t!.resources).toEqual({ limits: { memory: '48Mi', cpu: '200m' } });
    expect(p!.resources).toEqual({ limits: { memory: '16Mi', cpu: '50m' } });
    // The log shipper stays in the app's group: it reads log files the app makes group-readable only.
    expect(l!.securityContext).toEqual({ ...RESTRICTED, runAsUser: 2001, runAsGroup: 1000 });
    expect(t!.securityContext).toEqual({ ...RESTRICTED, runAsUser: 2002, runAsGroup: 2002 });
    expect(p!.securityContext).toEqual({ ...RESTRICTED, runAsUser: 2003, runAsGroup: 2003 });
    const uids = pod.spec.initContainers!.map((c) => c.securityContext?.runAsUser);
    expect(new Set(uids).size).toBe(uids.length);
    expect(pod.spec.containers[0]!.securityContext).toEqual(RESTRICTED);
  });

  it('shares the app-logs volume: read-write in the runtime (its writer), read-only in the shipper, which keeps offsets in a volume of its own', () => {
    const logs = pod.spec.initContainers![0]!;
    const runtime = pod.spec.containers[0]!;
    expect(pod.spec.volumes).toEqual([
      { name: 'workspace', emptyDir: {} },
      // Bounded: an app writing logs without end fills this volume, never the node's disk.
      { name: 'app-logs', emptyDir: { sizeLimit: LOG_SHIPPER.defaultVolumeSize } },
      { name: 'log-shipper-state', emptyDir: {} },
      { name: 'tls-material', secret: { secretName: 'hello-sidecar-tls', defaultMode: 0o444 } },
    ]);
    const sized = renderPod({
      app: { ...app, sidecars: both },
      release,
      podName: 'p',
      platformSidecars: { images, tls },
      settings: { ...DEFAULT_TEMPLATE_SETTINGS, appLogVolumeSize: '8Mi' },
    });
    expect(sized.spec.volumes).toContainEqual({ name: 'app-logs', emptyDir: { sizeLimit: '8Mi' } });
    expect(logs.volumeMounts).toEqual([
      { name: 'app-logs', mountPath: '/var/log/app', readOnly: true },
      { name: 'log-shipper-state', mountPath: '/var/lib/log-shipper' },
    ]);
    expect(runtime.name).toBe(LOG_SHIPPER.writer);
    expect(runtime.volumeMounts).toContainEqual({ name: 'app-logs', mountPath: '/var/log/app' });
    expect(logs.env).toEqual([
      { name: 'SIDECAR_LOGS_DIR', value: '/var/log/app' },
      { name: 'SIDECAR_LOGS_STATE_DIR', value: '/var/lib/log-shipper' },
    ]);
    // Running is started: the shipper adds only its container start to a rollout.
    expect(logs.startupProbe).toBeUndefined();
    expect(JSON.stringify(logs)).not.toContain('pw');
  });

  it('gives the TLS sidecar its port (published like 8080), a startup probe on it, and the certificate as files of a volume only it mounts', () => {
    const t = pod.spec.initContainers![2]!;
    expect(t.ports).toEqual([{ containerPort: 8443, name: 'https', protocol: 'TCP' }]);
    expect(t.startupProbe).toMatchObject({ tcpSocket: { port: 8443 } });
    expect(t.env).toEqual([
      { name: 'SIDECAR_TLS_CERT_FILE', value: '/run/secrets/sidecar-tls/tls.crt' },
      { name: 'SIDECAR_TLS_KEY_FILE', value: '/run/secrets/sidecar-tls/tls.key' },
      { name: 'SIDECAR_TLS_PORT', value: '8443' },
    ]);
    expect(t.volumeMounts).toEqual([{ name: 'tls-material', mountPath: '/run/secrets/sidecar-tls', readOnly: true }]);
    const mountsIt = [...pod.spec.initContainers!, ...pod.spec.containers].filter((c) =>
      c.volumeMounts?.some((m) => m.name === 'tls-material'),
    );
    expect(mountsIt.map((c) => c.name)).toEqual(['tls']);
    // The material is not in the pod at all (no env value anywhere): only in the Secret data beside it.
    expect(JSON.stringify(pod)).not.toContain('PRIVATE KEY');
    expect(
      renderPodSecrets({ app: { ...app, sidecars: both }, release, podName: 'p', platformSidecars: { images, tls } }),
    ).toEqual({
      'hello-sidecar-tls': { 'tls.crt': tls.cert, 'tls.key': tls.key },
    });
    expect(JSON.stringify(pod.spec.initContainers!.filter((c) => c.name !== 'app'))).not.toContain('pw');
  });

  it('shares the PID namespace only when procinfo is on', () => {
    expect(pod.spec.shareProcessNamespace).toBe(true);
    const tlsOnly = renderPod({
      app: { ...app, sidecars: { ...both, procinfo: false } },
      release,
      podName: 'p',
      platformSidecars: { images, tls },
    });
    expect(tlsOnly.spec.initContainers!.map((c) => c.name)).toEqual(['logs', 'app', 'tls']);
    expect(tlsOnly.spec.shareProcessNamespace).toBeUndefined();
  });

  it('renders the plain pod when none is enabled, and refuses an enabled sidecar without its image or certificate', () => {
    const none = renderPod({
      app: { ...app, sidecars: { logs: false, procinfo: false, tls: { enabled: false } } },
      release,
      podName: 'p',
    });
    expect(none.spec.initContainers!.map((c) => c.name)).toEqual(['app']);
    expect(none.spec.volumes).toEqual([{ name: 'workspace', emptyDir: {} }]);
    expect(none.spec.containers[0]!.volumeMounts).toEqual([
      { name: 'workspace', mountPath: '/workspace', readOnly: true },
    ]);
    expect(() =>
      renderPod({
        app: { ...app, sidecars: { logs: true, procinfo: false, tls: { enabled: false } } },
        release,
        podName: 'p',
      }),
    ).toThrow(/no sidecar images/);
    expect(() => renderPod({ app: { ...app, sidecars: both }, release, podName: 'p' })).toThrow(/no sidecar images/);
    expect(() =>
      renderPod({ app: { ...app, sidecars: both }, release, podName: 'p', platformSidecars: { images } }),
    ).toThrow(/no certificate/);
  });

  it('passes pod validation (what the Docker runner accepts)', () => {
    expect(() => validatePod(pod)).not.toThrow();
  });

  it('leaves them out of job pods', () => {
    const job = renderJobPod({
      app: { ...app, sidecars: both },
      release,
      podName: 'j',
      command: ['true'],
      platformSidecars: { images, tls },
    });
    expect(job.spec.initContainers!.map((c) => c.name)).toEqual(['app']);
    expect(job.spec.shareProcessNamespace).toBeUndefined();
    expect(job.spec.volumes).toEqual([{ name: 'workspace', emptyDir: {} }]);
  });
});

describe('enabledSidecars', () => {
  it('counts logs as on unless switched off, also for settings stored before the key existed', () => {
    expect(enabledSidecars({ logs: true, procinfo: true, tls: { enabled: true } })).toEqual([
      'logs',
      'tls',
      'procinfo',
    ]);
    expect(enabledSidecars({ procinfo: false, tls: { enabled: false } } as unknown as Sidecars)).toEqual(['logs']);
    expect(enabledSidecars({ logs: false, procinfo: false, tls: { enabled: false } })).toEqual([]);
    // No settings at all (job pods, the cluster pod today): none.
    expect(enabledSidecars(undefined)).toEqual([]);
  });
});
