import { describe, expect, it } from 'vitest';
import { Labels } from './labels.js';
import { podNameFor, renderJobPod, renderPod } from './pod-template.js';

const app = { name: 'hello', resources: { memory: '256Mi', cpu: '500m' }, secrets: { DB_PASSWORD: 'pw' } };
const release = {
  version: 3, image: 'sidecar-app/hello:d_1', runtimeImage: 'sidecar/runtime-node:abc', env: { B: '2', A: '1' },
  manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' } as const,
};

describe('renderPod: the one pod template', () => {
  const pod = renderPod({ app, release, podName: podNameFor('hello', 3, 'x1y2z') });

  it('puts the logic in a native sidecar (init container, restartPolicy Always) gated by a startup probe', () => {
    const [logic] = pod.spec.initContainers!;
    expect(logic).toMatchObject({
      name: 'app', image: 'sidecar-app/hello:d_1', restartPolicy: 'Always',
      volumeMounts: [{ name: 'workspace', mountPath: '/workspace' }],
      startupProbe: { exec: { command: ['test', '-f', '/workspace/.ready'] }, successThreshold: 1 },
    });
  });

  it('runs the stable runtime as the main container, reading the workspace read-only, ready only when the logic loaded', () => {
    const [runtime] = pod.spec.containers;
    expect(runtime).toMatchObject({
      name: 'runtime', image: 'sidecar/runtime-node:abc',
      volumeMounts: [{ name: 'workspace', mountPath: '/workspace', readOnly: true }],
      ports: [{ containerPort: 8080 }],
      readinessProbe: { httpGet: { path: '/__sidecar/ready', port: 8080 } },
      resources: { limits: { memory: '256Mi', cpu: '500m' } },
    });
    expect(runtime!.restartPolicy).toBeUndefined();
  });

  it('gives the runtime env, secrets and identity, sorted, platform values last-wins', () => {
    expect(pod.spec.containers[0]!.env).toEqual([
      { name: 'A', value: '1' }, { name: 'B', value: '2' }, { name: 'DB_PASSWORD', value: 'pw' }, { name: 'PORT', value: '8080' },
      { name: 'SIDECAR_APP', value: 'hello' }, { name: 'SIDECAR_RELEASE', value: '3' },
    ]);
    // The logic sidecar never sees secrets.
    expect(JSON.stringify(pod.spec.initContainers)).not.toContain('pw');
  });

  it('runs every container unprivileged', () => {
    for (const c of [...pod.spec.initContainers!, ...pod.spec.containers]) {
      expect(c.securityContext).toMatchObject({
        runAsUser: 1000, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] },
      });
      expect(c.resources?.limits?.memory).toBeDefined();
    }
  });

  it('labels the pod as the platform\'s own', () => {
    expect(pod.metadata).toEqual({
      name: 'hello-v3-x1y2z',
      labels: { [Labels.managed]: 'true', [Labels.app]: 'hello', [Labels.release]: '3', [Labels.pod]: 'hello-v3-x1y2z' },
    });
  });

  it('checks a process-mode app by its port, since the app owns it', () => {
    const p = renderPod({ app, release: { ...release, manifest: { runtime: 'node', mode: 'process', start: 'node s.js' } }, podName: 'p' });
    expect(p.spec.containers[0]!.readinessProbe).toMatchObject({ tcpSocket: { port: 8080 } });
    expect(p.spec.containers[0]!.readinessProbe!.httpGet).toBeUndefined();
  });
});

describe('renderJobPod', () => {
  const job = renderJobPod({ app, release, podName: 'hello-job-abcde', command: ['node', 'task.js'], env: { CODE: '3', A: 'job wins' } });

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
