import * as client from '@kubernetes/client-node';
import { checkPodRules, DomainError, ErrorCode, errorText } from '@sidecar/core';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import {
  ConfigMap,
  Namespace,
  PersistentVolumeClaim,
  Pod,
  Secret,
  Service,
  ServiceAccount,
} from 'kubernetes-models/v1';

/**
 * "The same check" for every manifest the platform renders, serves or ships:
 * 1. the official Kubernetes 1.33 OpenAPI schema (kubernetes-models 4.5 is generated from it:
 *    it knows 1.33's `Lifecycle.stopSignal`, not 1.34's `fileKeyRef`): types, required fields, enums;
 * 2. unknown fields, as `kubectl --validate=strict` would (the schema check lets them through),
 *    by walking the generated model classes of @kubernetes/client-node;
 * 3. core's pod rules (`checkPodRules`): the semantic native-sidecar rules no schema expresses.
 */
interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const MODELS: Record<string, { model: ModelClass; clientType: string }> = {
  'apps/v1/Deployment': { model: Deployment as unknown as ModelClass, clientType: 'V1Deployment' },
  'apps/v1/StatefulSet': { model: StatefulSet as unknown as ModelClass, clientType: 'V1StatefulSet' },
  'batch/v1/Job': { model: Job as unknown as ModelClass, clientType: 'V1Job' },
  'networking.k8s.io/v1/Ingress': { model: Ingress as unknown as ModelClass, clientType: 'V1Ingress' },
  'networking.k8s.io/v1/NetworkPolicy': {
    model: NetworkPolicy as unknown as ModelClass,
    clientType: 'V1NetworkPolicy',
  },
  'rbac.authorization.k8s.io/v1/Role': { model: Role as unknown as ModelClass, clientType: 'V1Role' },
  'rbac.authorization.k8s.io/v1/RoleBinding': {
    model: RoleBinding as unknown as ModelClass,
    clientType: 'V1RoleBinding',
  },
  'v1/ConfigMap': { model: ConfigMap as unknown as ModelClass, clientType: 'V1ConfigMap' },
  'v1/Namespace': { model: Namespace as unknown as ModelClass, clientType: 'V1Namespace' },
  'v1/PersistentVolumeClaim': {
    model: PersistentVolumeClaim as unknown as ModelClass,
    clientType: 'V1PersistentVolumeClaim',
  },
  'v1/Pod': { model: Pod as unknown as ModelClass, clientType: 'V1Pod' },
  'v1/Secret': { model: Secret as unknown as ModelClass, clientType: 'V1Secret' },
  'v1/Service': { model: Service as unknown as ModelClass, clientType: 'V1Service' },
  'v1/ServiceAccount': { model: ServiceAccount as unknown as ModelClass, clientType: 'V1ServiceAccount' },
};
export const CHECKED_KINDS = Object.keys(MODELS);

const invalid = (what: string, detail: string) => new DomainError(ErrorCode.invalidManifest, `${what}: ${detail}`);

/** Throws DomainError(invalid_manifest) naming the object and the field at fault. */
export function checkManifest(manifest: unknown): void {
  const m = (manifest ?? {}) as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
  const what = `${String(m.kind)} ${String(m.metadata?.name)}`;
  const entry = MODELS[`${String(m.apiVersion)}/${String(m.kind)}`];
  if (!entry)
    throw invalid(
      what,
      `unsupported kind ${String(m.apiVersion)}/${String(m.kind)} (checked: ${CHECKED_KINDS.join(', ')})`,
    );
  try {
    new entry.model(manifest as never).validate();
  } catch (e) {
    throw invalid(what, `schema: ${errorText(e)}`);
  }
  const unknown = unknownFields(manifest, entry.clientType, '');
  if (unknown.length > 0) throw invalid(what, `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  checkPodRules(manifest);
}

interface Attribute {
  name: string;
  baseName: string;
  type: string;
}
type ModelWithMap = { getAttributeTypeMap(): Attribute[] };
const SCALARS = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString']);
const ARRAY = /^Array<(.+)>$/;
const MAP = /^\{ \[key: string\]: (.+); \}$/;

function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined || SCALARS.has(type)) return [];
  const arr = ARRAY.exec(type);
  if (arr) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, arr[1]!, `${path}[${i}]`)) : [];
  const map = MAP.exec(type);
  if (map)
    return typeof value === 'object'
      ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}.${k}`))
      : [];
  const model = (client as unknown as Record<string, ModelWithMap | undefined>)[type];
  if (!model || typeof model.getAttributeTypeMap !== 'function' || typeof value !== 'object') return [];
  const attrs = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const at = path === '' ? k : `${path}.${k}`;
    const t = attrs.get(k);
    return t === undefined ? [at] : unknownFields(v, t, at);
  });
}
