import { DomainError, ErrorCode, validatePod, type ObjectMeta, type Pod, type PodSpec } from '@sidecar/core';
import { DNS_LABEL, generateName, resolveName } from './pod-names.js';

/**
 * The supported subset of a batch/v1 Job: one pod at a time from `spec.template`, retried per
 * `backoffLimit` (restartPolicy Never: a new pod per failure; OnFailure: container restarts count),
 * ended by `activeDeadlineSeconds`. Any other Job field is rejected by its path, never ignored.
 */
export interface JobManifest {
  name: string;
  /** Kubernetes' default is 6. */
  backoffLimit: number;
  activeDeadlineSeconds: number | undefined;
  restartPolicy: 'Never' | 'OnFailure';
  template: { metadata: ObjectMeta; spec: PodSpec };
}

/** Job status after Kubernetes batch/v1 JobStatus (one condition: Complete or Failed). */
export interface JobStatus {
  name: string;
  startTime: string;
  completionTime: string | null;
  active: number;
  succeeded: number;
  failed: number;
  conditions: { type: 'Complete' | 'Failed'; status: 'True'; reason?: string; message?: string }[];
}

export const DEFAULT_BACKOFF_LIMIT = 6;
/** Labels the Job controller puts on its pods. */
export const JOB_NAME_LABELS = ['batch.kubernetes.io/job-name', 'job-name'] as const;

type Obj = Record<string, unknown>;
const show = (v: unknown) => JSON.stringify(v) ?? String(v);
const fail = (path: string, detail: string): never => {
  throw new DomainError(ErrorCode.invalidManifest, `${path}: ${detail}`);
};

function object(v: unknown, path: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'Invalid value: must be an object');
  for (const key of Object.keys(v as Obj)) {
    if (!allowed.includes(key)) throw new DomainError(ErrorCode.invalidManifest, `${path}.${key} is not supported`);
  }
  return v as Obj;
}
function integer(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    fail(path, `Invalid value: ${show(v)}: must be an integer >= ${min}`);
  return v as number;
}

/** Validates a batch/v1 Job (apiVersion and kind already checked); throws DomainError naming the field. */
export function parseJob(doc: Obj): JobManifest {
  object(doc, '', ['apiVersion', 'kind', 'metadata', 'spec']);
  const meta =
    doc.metadata === undefined
      ? undefined
      : object(doc.metadata, 'metadata', ['name', 'generateName', 'namespace', 'labels', 'annotations']);
  const metadata = resolveName(meta, 'metadata');
  const name = metadata.name!;
  if (typeof name !== 'string' || !DNS_LABEL.test(name))
    fail('metadata.name', `Invalid value: ${show(name)}: must be a DNS-1123 label`);
  const spec = object(doc.spec, 'spec', [
    'template',
    'backoffLimit',
    'activeDeadlineSeconds',
    'completions',
    'parallelism',
  ]);
  for (const key of ['completions', 'parallelism'] as const) {
    if (spec[key] !== undefined && spec[key] !== 1)
      fail(`spec.${key}`, `Unsupported value: ${show(spec[key])}: only 1 is supported (one pod at a time)`);
  }
  const backoffLimit =
    spec.backoffLimit === undefined ? DEFAULT_BACKOFF_LIMIT : integer(spec.backoffLimit, 'spec.backoffLimit', 0);
  const activeDeadlineSeconds =
    spec.activeDeadlineSeconds === undefined
      ? undefined
      : integer(spec.activeDeadlineSeconds, 'spec.activeDeadlineSeconds', 1);
  if (spec.template === undefined) fail('spec.template', 'Required value');
  const template = object(spec.template, 'spec.template', ['metadata', 'spec']);
  const templateMeta =
    template.metadata === undefined
      ? {}
      : object(template.metadata, 'spec.template.metadata', ['labels', 'annotations']);
  if (template.spec === undefined) fail('spec.template.spec', 'Required value');
  const podSpec = object(template.spec, 'spec.template.spec', Object.keys(template.spec as Obj));
  // Kubernetes requires a Job's pods to end: restartPolicy must be set, and not to Always.
  const policy = podSpec.restartPolicy;
  if (policy === undefined)
    fail('spec.template.spec.restartPolicy', 'Required value: valid values: "OnFailure", "Never"');
  if (policy !== 'Never' && policy !== 'OnFailure')
    fail(
      'spec.template.spec.restartPolicy',
      `Unsupported value: ${show(policy)}: supported values: "OnFailure", "Never"`,
    );
  const job: JobManifest = {
    name,
    backoffLimit,
    activeDeadlineSeconds,
    restartPolicy: policy as 'Never' | 'OnFailure',
    template: { metadata: templateMeta as ObjectMeta, spec: podSpec as unknown as PodSpec },
  };
  // Validate the template once, as the pods will be; report paths as the Job's.
  try {
    validatePod(jobPod(job));
  } catch (e) {
    if (!(e instanceof DomainError)) throw e;
    throw new DomainError(ErrorCode.invalidManifest, e.message.replace(/^(spec|metadata)\b/, 'spec.template.$1'), {
      cause: e,
    });
  }
  return job;
}

/** One pod of the Job: `<job>-<5 random chars>`, the template's labels plus the Job controller's. */
export function jobPod(job: JobManifest): Pod {
  const labels = { ...job.template.metadata.labels, ...Object.fromEntries(JOB_NAME_LABELS.map((l) => [l, job.name])) };
  const metadata: ObjectMeta = { name: generateName(`${job.name}-`), labels };
  if (job.template.metadata.annotations) metadata.annotations = job.template.metadata.annotations;
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec: structuredClone(job.template.spec) };
}
