import { parseCpu, parseMemory } from './app.js';
import { DomainError, ErrorCode } from './errors.js';
import type { Pod } from './k8s-types.js';

/**
 * Validates a user- or template-supplied Pod before anything runs
 * (NATIVE-SIDECARS.md rules 22–24, after kubernetes `pkg/apis/core/validation`).
 * Only the subset of fields declared in k8s-types.ts is accepted; anything else
 * is rejected by its field path, so a manifest never silently loses meaning.
 * Messages follow the apiserver's `<path>: <Kind>: <detail>` style.
 */
export function validatePod(pod: unknown): Pod {
  const v = new Validator();
  v.pod(pod);
  return pod as Pod;
}

type Obj = Record<string, unknown>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const CAPABILITY = /^[A-Z_]+$/;

const fail = (path: string, detail: string): never => {
  throw new DomainError(ErrorCode.invalidManifest, `${path}: ${detail}`);
};
const unsupported = (path: string): never => {
  throw new DomainError(ErrorCode.invalidManifest, `${path} is not supported`);
};
const at = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);
const show = (v: unknown) => JSON.stringify(v);

function object(v: unknown, path: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'Invalid value: must be an object');
  const o = v as Obj;
  for (const key of Object.keys(o)) if (!allowed.includes(key)) unsupported(at(path, key));
  return o;
}
function array(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, 'Invalid value: must be an array');
  return v as unknown[];
}
function string(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(path, `Invalid value: ${show(v)}: must be a string`);
  return v as string;
}
function nonEmpty(v: unknown, path: string): string {
  const s = string(v, path);
  if (s === '') fail(path, 'Required value');
  return s;
}
function integer(v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(path, `Invalid value: ${show(v)}: must be an integer between ${min} and ${max}`);
  }
  return v as number;
}
/** A secret volume: a Secret's name (a DNS subdomain), file modes 0–0777, keys as relative paths. */
function secretSource(v: unknown, path: string): void {
  const s = object(v, path, ['secretName', 'defaultMode', 'items']);
  const name = nonEmpty(s.secretName, at(path, 'secretName'));
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name))
    fail(at(path, 'secretName'), `Invalid value: ${show(name)}: must be a DNS-1123 subdomain`);
  if (s.defaultMode !== undefined) integer(s.defaultMode, at(path, 'defaultMode'), 0, 0o777);
  if (s.items === undefined) return;
  array(s.items, at(path, 'items')).forEach((item, i) => {
    const where = `${at(path, 'items')}[${i}]`;
    const k = object(item, where, ['key', 'path', 'mode']);
    nonEmpty(k.key, at(where, 'key'));
    const file = nonEmpty(k.path, at(where, 'path'));
    if (file.startsWith('/') || file.split('/').includes('..'))
      fail(at(where, 'path'), `Invalid value: ${show(file)}: must be a relative path without '..'`);
    if (k.mode !== undefined) integer(k.mode, at(where, 'mode'), 0, 0o777);
  });
}
function boolean(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, `Invalid value: ${show(v)}: must be a boolean`);
  return v as boolean;
}
function stringMap(v: unknown, path: string): void {
  const o = object(v, path, Object.keys((v as Obj | null) ?? {}));
  for (const [k, val] of Object.entries(o)) string(val, at(path, k));
}
function oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !values.includes(v as T)) {
    fail(path, `Unsupported value: ${show(v)}: supported values: ${values.map(show).join(', ')}`);
  }
  return v as T;
}

const CONTAINER_FIELDS = [
  'name',
  'image',
  'command',
  'args',
  'env',
  'workingDir',
  'ports',
  'volumeMounts',
  'resources',
  'restartPolicy',
  'startupProbe',
  'readinessProbe',
  'livenessProbe',
  'lifecycle',
  'securityContext',
] as const;
const PROBE_TIMING_FIELDS = [
  'initialDelaySeconds',
  'periodSeconds',
  'timeoutSeconds',
  'successThreshold',
  'failureThreshold',
] as const;
type HandlerKind = 'exec' | 'httpGet' | 'tcpSocket' | 'sleep';

type Role = 'init' | 'main';

class Validator {
  private volumes = new Set<string>();
  private names = new Set<string>();

  pod(v: unknown): void {
    const pod = object(v, '', ['apiVersion', 'kind', 'metadata', 'spec']);
    if (pod.apiVersion !== 'v1')
      fail('apiVersion', `Unsupported value: ${show(pod.apiVersion)}: supported values: "v1"`);
    if (pod.kind !== 'Pod') fail('kind', `Unsupported value: ${show(pod.kind)}: supported values: "Pod"`);
    this.metadata(pod.metadata);
    this.spec(pod.spec);
  }

  private metadata(v: unknown): void {
    const m = object(v, 'metadata', ['name', 'namespace', 'labels', 'annotations']);
    const name = nonEmpty(m.name, 'metadata.name');
    if (!DNS_LABEL.test(name)) fail('metadata.name', `Invalid value: ${show(name)}: must be a DNS-1123 label`);
    if (m.namespace !== undefined) string(m.namespace, 'metadata.namespace');
    if (m.labels !== undefined) stringMap(m.labels, 'metadata.labels');
    if (m.annotations !== undefined) stringMap(m.annotations, 'metadata.annotations');
  }

  private spec(v: unknown): void {
    const s = object(v, 'spec', [
      'restartPolicy',
      'terminationGracePeriodSeconds',
      'volumes',
      'initContainers',
      'containers',
      'shareProcessNamespace',
    ]);
    if (s.restartPolicy !== undefined) oneOf(s.restartPolicy, 'spec.restartPolicy', ['Always', 'OnFailure', 'Never']);
    if (s.terminationGracePeriodSeconds !== undefined)
      integer(s.terminationGracePeriodSeconds, 'spec.terminationGracePeriodSeconds', 0);
    if (s.shareProcessNamespace !== undefined) boolean(s.shareProcessNamespace, 'spec.shareProcessNamespace');
    if (s.volumes !== undefined)
      array(s.volumes, 'spec.volumes').forEach((vol, i) => this.volume(vol, `spec.volumes[${i}]`));
    if (s.initContainers !== undefined) {
      array(s.initContainers, 'spec.initContainers').forEach((c, i) =>
        this.container(c, `spec.initContainers[${i}]`, 'init'),
      );
    }
    if (s.containers === undefined) fail('spec.containers', 'Required value');
    const mains = array(s.containers, 'spec.containers');
    if (mains.length === 0) fail('spec.containers', 'Required value: at least one container');
    mains.forEach((c, i) => this.container(c, `spec.containers[${i}]`, 'main'));
  }

  private volume(v: unknown, path: string): void {
    const vol = object(v, path, ['name', 'emptyDir', 'secret']);
    const name = nonEmpty(vol.name, at(path, 'name'));
    if (!DNS_LABEL.test(name)) fail(at(path, 'name'), `Invalid value: ${show(name)}: must be a DNS-1123 label`);
    if (this.volumes.has(name)) fail(at(path, 'name'), `Duplicate value: ${show(name)}`);
    this.volumes.add(name);
    // The sources the Docker target can provide: a named volume (emptyDir), or one it fills from a Secret it is handed.
    if ((vol.emptyDir === undefined) === (vol.secret === undefined))
      fail(path, 'Required value: exactly one of emptyDir or secret (the supported volume sources)');
    if (vol.secret !== undefined) return secretSource(vol.secret, at(path, 'secret'));
    const e = object(vol.emptyDir, at(path, 'emptyDir'), ['medium', 'sizeLimit']);
    if (e.medium !== undefined) oneOf(e.medium, at(path, 'emptyDir.medium'), ['', 'Memory']);
    if (e.sizeLimit !== undefined) quantity(e.sizeLimit, at(path, 'emptyDir.sizeLimit'), parseMemory);
  }

  private container(v: unknown, path: string, role: Role): void {
    const c = object(v, path, CONTAINER_FIELDS);
    const name = nonEmpty(c.name, at(path, 'name'));
    if (!DNS_LABEL.test(name)) fail(at(path, 'name'), `Invalid value: ${show(name)}: must be a DNS-1123 label`);
    // Rule 24: names are unique across init and main containers.
    if (this.names.has(name)) fail(at(path, 'name'), `Duplicate value: ${show(name)}`);
    this.names.add(name);
    nonEmpty(c.image, at(path, 'image'));
    for (const key of ['command', 'args'] as const) {
      if (c[key] !== undefined) array(c[key], at(path, key)).forEach((a, i) => string(a, `${at(path, key)}[${i}]`));
    }
    if (c.workingDir !== undefined) string(c.workingDir, at(path, 'workingDir'));
    if (c.env !== undefined) array(c.env, at(path, 'env')).forEach((e, i) => envVar(e, `${at(path, 'env')}[${i}]`));
    const portNames = new Set<string>();
    if (c.ports !== undefined) {
      array(c.ports, at(path, 'ports')).forEach((p, i) => {
        const pp = `${at(path, 'ports')}[${i}]`;
        const port = object(p, pp, ['containerPort', 'name', 'protocol']);
        integer(port.containerPort, at(pp, 'containerPort'), 1, 65535);
        if (port.name !== undefined) portNames.add(nonEmpty(port.name, at(pp, 'name')));
        if (port.protocol !== undefined) oneOf(port.protocol, at(pp, 'protocol'), ['TCP']);
      });
    }
    if (c.volumeMounts !== undefined) {
      array(c.volumeMounts, at(path, 'volumeMounts')).forEach((m, i) =>
        this.volumeMount(m, `${at(path, 'volumeMounts')}[${i}]`),
      );
    }
    if (c.resources !== undefined) resources(c.resources, at(path, 'resources'));
    if (c.securityContext !== undefined) securityContext(c.securityContext, at(path, 'securityContext'));

    // Rule 22: restartPolicy may only be Always on an init container and is forbidden on a main one.
    const sidecar = role === 'init' && c.restartPolicy !== undefined;
    if (c.restartPolicy !== undefined) {
      if (role === 'main') fail(at(path, 'restartPolicy'), 'Forbidden: may not be set for non-init containers');
      oneOf(c.restartPolicy, at(path, 'restartPolicy'), ['Always']);
    }
    // Rule 23: a regular init container has no hooks and no probes.
    if (role === 'init' && !sidecar) {
      for (const key of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
        if (c[key] !== undefined)
          fail(at(path, key), 'Forbidden: may not be set for init containers without restartPolicy=Always');
      }
    }
    for (const key of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      if (c[key] === undefined) continue;
      const probe = probeShape(c[key], at(path, key), portNames);
      // Rule 24 (and the apiserver for every container): startup and liveness need successThreshold 1.
      if (key !== 'readinessProbe' && probe.successThreshold !== undefined && probe.successThreshold !== 1) {
        fail(at(path, `${key}.successThreshold`), `Invalid value: ${show(probe.successThreshold)}: must be 1`);
      }
    }
    if (c.lifecycle !== undefined) {
      const l = object(c.lifecycle, at(path, 'lifecycle'), ['postStart', 'preStop']);
      for (const hook of ['postStart', 'preStop'] as const) {
        if (l[hook] !== undefined)
          handler(l[hook], at(path, `lifecycle.${hook}`), portNames, { kinds: ['exec', 'httpGet', 'sleep'] });
      }
    }
  }

  private volumeMount(v: unknown, path: string): void {
    const m = object(v, path, ['name', 'mountPath', 'readOnly']);
    const name = nonEmpty(m.name, at(path, 'name'));
    if (!this.volumes.has(name)) fail(at(path, 'name'), `Not found: ${show(name)}`);
    const mountPath = nonEmpty(m.mountPath, at(path, 'mountPath'));
    if (!mountPath.startsWith('/'))
      fail(at(path, 'mountPath'), `Invalid value: ${show(mountPath)}: must be an absolute path`);
    if (m.readOnly !== undefined) boolean(m.readOnly, at(path, 'readOnly'));
  }
}

function quantity(v: unknown, path: string, parse: (q: string) => number): void {
  const q = string(v, path);
  try {
    parse(q);
  } catch (cause) {
    throw new DomainError(ErrorCode.invalidManifest, `${path}: Invalid value: ${show(q)}: must be a quantity`, {
      cause,
    });
  }
}

function envVar(v: unknown, path: string): void {
  const e = object(v, path, ['name', 'value']);
  const name = nonEmpty(e.name, at(path, 'name'));
  if (!ENV_NAME.test(name))
    fail(at(path, 'name'), `Invalid value: ${show(name)}: must be a valid environment variable name`);
  if (e.value !== undefined) string(e.value, at(path, 'value'));
}

function resources(v: unknown, path: string): void {
  const r = object(v, path, ['limits', 'requests']);
  for (const kind of ['limits', 'requests'] as const) {
    if (r[kind] === undefined) continue;
    const q = object(r[kind], at(path, kind), ['memory', 'cpu']);
    if (q.memory !== undefined) quantity(q.memory, at(path, `${kind}.memory`), parseMemory);
    if (q.cpu !== undefined) quantity(q.cpu, at(path, `${kind}.cpu`), parseCpu);
  }
}

function securityContext(v: unknown, path: string): void {
  const s = object(v, path, [
    'runAsUser',
    'runAsGroup',
    'runAsNonRoot',
    'readOnlyRootFilesystem',
    'allowPrivilegeEscalation',
    'capabilities',
  ]);
  if (s.runAsUser !== undefined) integer(s.runAsUser, at(path, 'runAsUser'), 0, 2 ** 31 - 1);
  if (s.runAsGroup !== undefined) integer(s.runAsGroup, at(path, 'runAsGroup'), 0, 2 ** 31 - 1);
  for (const key of ['runAsNonRoot', 'readOnlyRootFilesystem', 'allowPrivilegeEscalation'] as const) {
    if (s[key] !== undefined) boolean(s[key], at(path, key));
  }
  if (s.runAsNonRoot === true && s.runAsUser === 0)
    fail(at(path, 'runAsNonRoot'), 'Invalid value: true: runAsUser 0 is root');
  if (s.capabilities !== undefined) {
    const caps = object(s.capabilities, at(path, 'capabilities'), ['drop']);
    if (caps.drop !== undefined) {
      array(caps.drop, at(path, 'capabilities.drop')).forEach((d, i) => {
        const cap = string(d, `${at(path, 'capabilities.drop')}[${i}]`);
        if (!CAPABILITY.test(cap)) fail(`${at(path, 'capabilities.drop')}[${i}]`, `Invalid value: ${show(cap)}`);
      });
    }
  }
}

function port(v: unknown, path: string, portNames: ReadonlySet<string>): void {
  if (typeof v === 'number') {
    integer(v, path, 1, 65535);
    return;
  }
  const name = nonEmpty(v, path);
  if (!portNames.has(name))
    fail(path, `Invalid value: ${show(name)}: must be a port number or the name of a declared container port`);
}

/** A probe or hook action: exactly one handler (the apiserver's "may not specify more than 1 handler type"). */
function handler(
  v: unknown,
  path: string,
  portNames: ReadonlySet<string>,
  spec: { kinds: readonly HandlerKind[]; extra?: readonly string[] },
): Obj {
  const kinds = spec.kinds;
  const h = object(v, path, [...kinds, ...(spec.extra ?? [])]);
  const present = kinds.filter((k) => h[k] !== undefined);
  if (present.length !== 1) fail(path, `Required value: exactly one of ${kinds.join(', ')} must be specified`);
  if (h.exec !== undefined) {
    const e = object(h.exec, at(path, 'exec'), ['command']);
    const cmd = array(e.command, at(path, 'exec.command'));
    if (cmd.length === 0) fail(at(path, 'exec.command'), 'Required value');
    cmd.forEach((a, i) => string(a, `${at(path, 'exec.command')}[${i}]`));
  }
  if (h.httpGet !== undefined) {
    const g = object(h.httpGet, at(path, 'httpGet'), ['path', 'port', 'host', 'scheme']);
    if (g.path !== undefined) string(g.path, at(path, 'httpGet.path'));
    port(g.port, at(path, 'httpGet.port'), portNames);
    if (g.host !== undefined) string(g.host, at(path, 'httpGet.host'));
    if (g.scheme !== undefined) oneOf(g.scheme, at(path, 'httpGet.scheme'), ['HTTP', 'HTTPS']);
  }
  if (h.tcpSocket !== undefined) {
    const t = object(h.tcpSocket, at(path, 'tcpSocket'), ['port', 'host']);
    port(t.port, at(path, 'tcpSocket.port'), portNames);
    if (t.host !== undefined) string(t.host, at(path, 'tcpSocket.host'));
  }
  if (h.sleep !== undefined) {
    const s = object(h.sleep, at(path, 'sleep'), ['seconds']);
    integer(s.seconds, at(path, 'sleep.seconds'), 0);
  }
  return h;
}

function probeShape(v: unknown, path: string, portNames: ReadonlySet<string>): { successThreshold?: number } {
  const p = handler(v, path, portNames, { kinds: ['exec', 'httpGet', 'tcpSocket'], extra: PROBE_TIMING_FIELDS });
  for (const key of ['initialDelaySeconds'] as const) if (p[key] !== undefined) integer(p[key], at(path, key), 0);
  for (const key of ['periodSeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold'] as const) {
    if (p[key] !== undefined) integer(p[key], at(path, key), 1);
  }
  return p as { successThreshold?: number };
}
