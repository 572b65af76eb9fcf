import { Labels, renderPod, type Pod } from '@sidecar/core';
import { describe, expect, it } from 'vitest';
import {
  POD_SPEC_LABEL,
  containerCreateOptions,
  declaredPorts,
  pauseCreateOptions,
  netnsHolderCreateOptions,
  NETNS_HOLDER_LABEL,
  NETNS_ROLE,
  POOL_OWNER_LABEL,
  PLATFORM_LABEL,
  redactPod,
  volumeCreateOptions,
} from './container-options.js';

const pod: Pod = renderPod({
  app: { name: 'hello', resources: { memory: '256Mi', cpu: '500m' }, secrets: { TOKEN: 's3cret' } },
  release: {
    version: 2,
    image: 'logic:2',
    runtimeImage: 'runtime:1',
    env: { A: '1' },
    manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' },
  },
  podName: 'hello-v2-abcde',
});
const [logic] = pod.spec.initContainers!;
const [runtime] = pod.spec.containers;

describe('containerCreateOptions', () => {
  it('maps the runtime container of the template', () => {
    expect(containerCreateOptions({ pod, container: runtime!, role: 'main', sandboxId: 'p123' })).toEqual({
      name: 'hello-v2-abcde-runtime',
      Image: 'runtime:1',
      Env: ['A=1', 'PORT=8080', 'SIDECAR_APP=hello', 'SIDECAR_RELEASE=2', 'TOKEN=s3cret'],
      User: '1000:1000',
      Labels: {
        [Labels.managed]: 'true',
        [Labels.pod]: 'hello-v2-abcde',
        [Labels.app]: 'hello',
        [Labels.release]: '2',
        [Labels.container]: 'runtime',
        [Labels.role]: 'main',
      },
      HostConfig: {
        NetworkMode: 'container:p123',
        IpcMode: 'container:p123',
        Mounts: [{ Type: 'volume', Source: 'hello-v2-abcde_workspace', Target: '/workspace', ReadOnly: true }],
        PidsLimit: 1024,
        RestartPolicy: { Name: 'no' },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
        Memory: 256 * 1024 ** 2,
        MemorySwap: 256 * 1024 ** 2,
        NanoCpus: 500_000_000,
        ReadonlyRootfs: true,
        Tmpfs: { '/tmp': 'rw,nosuid,nodev,size=64m' },
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
      },
    });
  });

  it('maps command to Entrypoint and args to Cmd, and shares the PID namespace on request', () => {
    const p: Pod = { ...pod, spec: { ...pod.spec, shareProcessNamespace: true } };
    const opts = containerCreateOptions({
      pod: p,
      container: {
        name: 'x',
        image: 'img',
        command: ['sh', '-c'],
        args: ['echo hi'],
        workingDir: '/w',
        securityContext: { runAsUser: 5 },
      },
      role: 'sidecar',
      sandboxId: 'p1',
      pidsLimit: 64,
    });
    expect(opts).toMatchObject({
      Entrypoint: ['sh', '-c'],
      Cmd: ['echo hi'],
      WorkingDir: '/w',
      User: '5',
      HostConfig: { PidMode: 'container:p1', PidsLimit: 64 },
    });
    expect(opts.HostConfig?.ReadonlyRootfs).toBeUndefined();
    expect(opts.HostConfig?.SecurityOpt).toBeUndefined();
    expect(opts.Labels?.[Labels.role]).toBe('sidecar');
  });

  it('keeps the image entrypoint and command when none is given', () => {
    const opts = containerCreateOptions({ pod, container: logic!, role: 'sidecar', sandboxId: 'p' });
    expect(opts.Entrypoint).toBeUndefined();
    expect(opts.Cmd).toBeUndefined();
    expect(opts.HostConfig?.Mounts?.[0]?.ReadOnly).toBe(false);
  });
});

describe('pauseCreateOptions', () => {
  it('exposes declared ports without publishing any on the host, and stores the redacted spec', () => {
    const opts = pauseCreateOptions(pod, 'pause:1', 'net-id');
    expect(opts).toMatchObject({
      name: 'hello-v2-abcde_pause',
      Image: 'pause:1',
      ExposedPorts: { '8080/tcp': {} },
      HostConfig: { NetworkMode: 'net-id', IpcMode: 'shareable' },
    });
    // Published ports go through Docker's userland proxy; the router reaches the pod's IP instead.
    expect(opts.HostConfig?.PortBindings).toBeUndefined();
    expect(opts.HostConfig?.PublishAllPorts).toBeUndefined();
    expect(opts.Labels?.[Labels.role]).toBe('pause');
    const stored = opts.Labels?.[POD_SPEC_LABEL] ?? '';
    expect(stored).not.toContain('s3cret');
    expect(JSON.parse(stored)).toEqual(redactPod(pod));
    expect(JSON.parse(stored).spec.containers[0].env).toContainEqual({ name: 'TOKEN' });
  });

  it("joins a warm network holder's namespaces instead of exposing ports itself, and names it for removal", () => {
    const opts = pauseCreateOptions(pod, 'pause:1', 'net-id', 'holder-1');
    expect(opts.HostConfig?.NetworkMode).toBe('container:holder-1');
    expect(opts.HostConfig?.PortBindings).toBeUndefined();
    expect(opts.ExposedPorts).toBeUndefined();
    expect(opts.HostConfig?.IpcMode).toBe('container:holder-1');
    expect(opts.Labels?.[NETNS_HOLDER_LABEL]).toBe('holder-1');
    expect(opts.Labels?.[Labels.pod]).toBe('hello-v2-abcde');
  });

  it('lists every declared port once', () => {
    const p: Pod = {
      ...pod,
      spec: { ...pod.spec, initContainers: [{ ...logic!, ports: [{ containerPort: 9090 }, { containerPort: 8080 }] }] },
    };
    expect(declaredPorts(p)).toEqual([8080, 9090]);
  });
});

describe('netnsHolderCreateOptions', () => {
  it('a labelled, unprivileged holder on the pod network exposing the port set, publishing none', () => {
    const opts = netnsHolderCreateOptions({
      name: 'sidecar-holder-0a1b2c3d4e5f',
      image: 'pause:1',
      network: 'net-id',
      ports: [8080, 8443],
      owner: 'host:42:9876:abc123',
      platformId: 'p1',
    });
    expect(opts).toMatchObject({
      name: 'sidecar-holder-0a1b2c3d4e5f',
      Image: 'pause:1',
      Labels: {
        [Labels.managed]: 'true',
        [Labels.role]: NETNS_ROLE,
        [POOL_OWNER_LABEL]: 'host:42:9876:abc123',
        [PLATFORM_LABEL]: 'p1',
      },
      ExposedPorts: { '8080/tcp': {}, '8443/tcp': {} },
      HostConfig: {
        NetworkMode: 'net-id',
        IpcMode: 'shareable',
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
      },
    });
    expect(opts.HostConfig?.PortBindings).toBeUndefined();
    expect(opts.Labels?.[Labels.pod]).toBeUndefined();
  });
});

describe('volumeCreateOptions', () => {
  it('one labelled named volume per emptyDir; Memory medium is a tmpfs', () => {
    expect(volumeCreateOptions(pod, { name: 'workspace', emptyDir: {} })).toEqual({
      Name: 'hello-v2-abcde_workspace',
      Driver: 'local',
      Labels: {
        [Labels.managed]: 'true',
        [Labels.pod]: 'hello-v2-abcde',
        [Labels.app]: 'hello',
        [Labels.release]: '2',
        [Labels.role]: 'volume',
      },
    });
    expect(
      volumeCreateOptions(pod, { name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }).DriverOpts,
    ).toEqual({
      type: 'tmpfs',
      device: 'tmpfs',
      o: 'mode=1777,size=1048576',
    });
  });
});
