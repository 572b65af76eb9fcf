import { describe, expect, it } from 'vitest';
import { isDomainError } from './errors.js';
import type { Pod } from './k8s-types.js';
import { renderPod } from './pod-template.js';
import { validatePod } from './pod-validation.js';

const base = (): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p1' },
  spec: {
    restartPolicy: 'Never',
    volumes: [{ name: 'shared', emptyDir: {} }],
    initContainers: [
      { name: 'i1', image: 'busybox', command: ['sh', '-c', 'true'] },
      {
        name: 's1',
        image: 'busybox',
        restartPolicy: 'Always',
        startupProbe: { exec: { command: ['test', '-f', '/tmp/up'] }, periodSeconds: 1, successThreshold: 1 },
        readinessProbe: { tcpSocket: { port: 'http' }, successThreshold: 3 },
        ports: [{ containerPort: 8080, name: 'http' }],
        lifecycle: { postStart: { sleep: { seconds: 1 } }, preStop: { exec: { command: ['true'] } } },
      },
    ],
    containers: [
      { name: 'm1', image: 'busybox', volumeMounts: [{ name: 'shared', mountPath: '/data', readOnly: true }] },
    ],
  },
});

/** Applies `edit` to a fresh valid pod and returns the rejection message. */
function rejection(edit: (pod: any) => void): string {
  const pod = base();
  edit(pod);
  try {
    validatePod(pod);
  } catch (e) {
    if (isDomainError(e) && e.code === 'invalid_manifest') return e.message;
    throw e;
  }
  throw new Error('expected the pod to be rejected');
}

describe('validatePod', () => {
  it('accepts a pod using the supported subset', () => {
    const pod = base();
    expect(validatePod(pod)).toBe(pod);
  });

  it('accepts a secret volume with items and modes', () => {
    const pod = base();
    pod.spec.volumes = [
      {
        name: 'shared',
        secret: {
          secretName: 'app-sidecar-tls',
          defaultMode: 0o444,
          items: [{ key: 'tls.key', path: 'k/tls.key', mode: 0o400 }],
        },
      },
    ];
    expect(validatePod(pod)).toBe(pod);
  });

  it("accepts the platform's own template", () => {
    const pod = renderPod({
      app: { name: 'hello', resources: { memory: '128Mi', cpu: '500m' }, secrets: { TOKEN: 's3cret' } },
      release: {
        version: 2,
        image: 'logic:2',
        runtimeImage: 'rt:1',
        env: { A: '1' },
        manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' },
      },
      podName: 'hello-v2-abcde',
    });
    expect(validatePod(pod)).toBe(pod);
  });

  // NATIVE-SIDECARS case 22 and rules 22–24.
  it.each([
    [
      'init with readinessProbe',
      (p: any) => (p.spec.initContainers[0].readinessProbe = { exec: { command: ['true'] } }),
      'spec.initContainers[0].readinessProbe: Forbidden',
    ],
    [
      'init with livenessProbe',
      (p: any) => (p.spec.initContainers[0].livenessProbe = { exec: { command: ['true'] } }),
      'spec.initContainers[0].livenessProbe: Forbidden',
    ],
    [
      'init with startupProbe',
      (p: any) => (p.spec.initContainers[0].startupProbe = { exec: { command: ['true'] } }),
      'spec.initContainers[0].startupProbe: Forbidden',
    ],
    [
      'init with lifecycle',
      (p: any) => (p.spec.initContainers[0].lifecycle = { preStop: { sleep: { seconds: 1 } } }),
      'spec.initContainers[0].lifecycle: Forbidden',
    ],
    [
      'init restartPolicy OnFailure',
      (p: any) => (p.spec.initContainers[0].restartPolicy = 'OnFailure'),
      'spec.initContainers[0].restartPolicy: Unsupported value: "OnFailure"',
    ],
    [
      'main with restartPolicy',
      (p: any) => (p.spec.containers[0].restartPolicy = 'Always'),
      'spec.containers[0].restartPolicy: Forbidden',
    ],
    [
      'sidecar startupProbe successThreshold 2',
      (p: any) => (p.spec.initContainers[1].startupProbe.successThreshold = 2),
      'spec.initContainers[1].startupProbe.successThreshold: Invalid value: 2: must be 1',
    ],
    [
      'sidecar livenessProbe successThreshold 2',
      (p: any) => (p.spec.initContainers[1].livenessProbe = { exec: { command: ['true'] }, successThreshold: 2 }),
      'spec.initContainers[1].livenessProbe.successThreshold',
    ],
    [
      'duplicate name across init and main',
      (p: any) => (p.spec.containers[0].name = 's1'),
      'spec.containers[0].name: Duplicate value: "s1"',
    ],
    [
      'duplicate name among mains',
      (p: any) => p.spec.containers.push({ name: 'm1', image: 'x' }),
      'spec.containers[1].name: Duplicate value: "m1"',
    ],
  ])('rejects %s', (_name, edit, message) => {
    expect(rejection(edit)).toContain(message);
  });

  it.each([
    ['spec.hostNetwork', (p: any) => (p.spec.hostNetwork = true)],
    [
      'spec.containers[0].env[0].valueFrom',
      (p: any) => (p.spec.containers[0].env = [{ name: 'A', valueFrom: { secretKeyRef: {} } }]),
    ],
    [
      'spec.initContainers[1].securityContext.privileged',
      (p: any) => (p.spec.initContainers[1].securityContext = { privileged: true }),
    ],
    [
      'spec.containers[0].securityContext.capabilities.add',
      (p: any) => (p.spec.containers[0].securityContext = { capabilities: { add: ['NET_ADMIN'] } }),
    ],
    ['spec.volumes[0].hostPath', (p: any) => (p.spec.volumes[0].hostPath = { path: '/' })],
    ['status', (p: any) => (p.status = {})],
    ['spec.containers[0].imagePullPolicy', (p: any) => (p.spec.containers[0].imagePullPolicy = 'Always')],
    [
      'spec.initContainers[1].readinessProbe.grpc',
      (p: any) => (p.spec.initContainers[1].readinessProbe.grpc = { port: 1 }),
    ],
  ])('rejects the unsupported field %s by path', (path, edit) => {
    expect(rejection(edit)).toBe(`${path} is not supported`);
  });

  it.each([
    ['missing containers', (p: any) => delete p.spec.containers, 'spec.containers: Required value'],
    ['empty containers', (p: any) => (p.spec.containers = []), 'spec.containers: Required value'],
    [
      'bad pod restartPolicy',
      (p: any) => (p.spec.restartPolicy = 'Sometimes'),
      'spec.restartPolicy: Unsupported value',
    ],
    [
      'mount of an undeclared volume',
      (p: any) => (p.spec.containers[0].volumeMounts[0].name = 'nope'),
      'spec.containers[0].volumeMounts[0].name: Not found: "nope"',
    ],
    [
      'probe without a handler',
      (p: any) => (p.spec.initContainers[1].readinessProbe = { periodSeconds: 1 }),
      'spec.initContainers[1].readinessProbe: Required value',
    ],
    [
      'probe with two handlers',
      (p: any) => (p.spec.initContainers[1].readinessProbe.exec = { command: ['true'] }),
      'spec.initContainers[1].readinessProbe: Required value',
    ],
    [
      'unknown named port',
      (p: any) => (p.spec.initContainers[1].readinessProbe.tcpSocket.port = 'grpc'),
      'spec.initContainers[1].readinessProbe.tcpSocket.port',
    ],
    [
      'bad memory quantity',
      (p: any) => (p.spec.containers[0].resources = { limits: { memory: 'lots' } }),
      'spec.containers[0].resources.limits.memory: Invalid value: "lots"',
    ],
    [
      'invalid container name',
      (p: any) => (p.spec.containers[0].name = 'M_1'),
      'spec.containers[0].name: Invalid value',
    ],
    [
      'tcpSocket as a hook',
      (p: any) => (p.spec.initContainers[1].lifecycle.postStart = { tcpSocket: { port: 80 } }),
      'spec.initContainers[1].lifecycle.postStart.tcpSocket is not supported',
    ],
    [
      'periodSeconds 0',
      (p: any) => (p.spec.initContainers[1].startupProbe.periodSeconds = 0),
      'spec.initContainers[1].startupProbe.periodSeconds: Invalid value: 0',
    ],
    [
      'a volume with two sources',
      (p: any) => (p.spec.volumes[0].secret = { secretName: 'tls' }),
      'spec.volumes[0]: Required value: exactly one of emptyDir or secret',
    ],
    [
      'a secret item path leaving the volume',
      (p: any) =>
        (p.spec.volumes[0] = { name: 'shared', secret: { secretName: 'tls', items: [{ key: 'k', path: '../k' }] } }),
      'spec.volumes[0].secret.items[0].path: Invalid value: "../k"',
    ],
    [
      'a secret file mode past 0777',
      (p: any) => (p.spec.volumes[0] = { name: 'shared', secret: { secretName: 'tls', defaultMode: 0o1777 } }),
      'spec.volumes[0].secret.defaultMode: Invalid value',
    ],
    [
      'a secret name that is not a DNS subdomain',
      (p: any) => (p.spec.volumes[0] = { name: 'shared', secret: { secretName: 'TLS_key' } }),
      'spec.volumes[0].secret.secretName: Invalid value: "TLS_key"',
    ],
    ['not an object', (p: any) => (p.spec = 'x'), 'spec: Invalid value: must be an object'],
    ['wrong kind', (p: any) => (p.kind = 'Deployment'), 'kind: Unsupported value: "Deployment"'],
  ])('rejects %s', (_name, edit, message) => {
    expect(rejection(edit)).toContain(message);
  });

  it('rejects a non-object', () => {
    expect(() => validatePod(null)).toThrow(/must be an object/);
  });
});
