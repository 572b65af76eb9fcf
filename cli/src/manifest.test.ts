import { describe, expect, it } from 'vitest';
import { ManifestError } from './errors.js';
import { jobPod } from './job.js';
import { parseManifest } from './manifest.js';

const yaml = (text: string) => parseManifest(text, { source: 'm.yaml', json: false });
const error = (text: string, json = false) => {
  try {
    parseManifest(text, { source: json ? 'm.json' : 'm.yaml', json });
  } catch (e) {
    if (e instanceof ManifestError) return e.message;
    throw e;
  }
  throw new Error('no manifest error');
};

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  restartPolicy: Never
  containers:
  - name: m1
    image: busybox
`;

describe('parseManifest', () => {
  it('reads a Pod from YAML or JSON', () => {
    const m = yaml(POD);
    expect(m.kind === 'Pod' && m.pod.metadata.name).toBe('web');
    const j = parseManifest(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web' },
        spec: { containers: [{ name: 'm', image: 'i' }] },
      }),
      { source: 'm.json', json: true },
    );
    expect(j.kind).toBe('Pod');
  });

  it('applies generateName as the apiserver does', () => {
    const m = yaml(POD.replace('name: web', 'generateName: web-'));
    expect(m.kind === 'Pod' && m.pod.metadata.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it('names the file and the field of every problem', () => {
    expect(error('a: [1\nb: 2')).toMatch(/^m\.yaml: invalid YAML: .* at line 2, column 1$/);
    expect(error('{"a":', true)).toMatch(/^m\.json: invalid JSON: /);
    expect(error(`${POD}---\n${POD}`)).toBe('m.yaml: 2 documents; give one Pod or Job per file');
    expect(error('')).toBe('m.yaml: empty manifest');
    expect(error('- a')).toMatch(/^m\.yaml: not a Kubernetes object/);
    expect(error(POD.replace('kind: Pod', 'kind: Deployment'))).toMatch(
      /^m\.yaml: kind: Unsupported value: "Deployment"/,
    );
    expect(error(POD.replace('apiVersion: v1', 'apiVersion: v2'))).toMatch(
      /^m\.yaml: apiVersion: Unsupported value: "v2"/,
    );
    expect(error(POD.replace('name: web', 'name: Web_1'))).toMatch(
      /^m\.yaml: metadata\.name: Invalid value: "Web_1": must be a DNS-1123 label/,
    );
    expect(error(POD.replace('  name: web\n', ''))).toMatch(/metadata\.name: Required value/);
    expect(
      error(
        `${POD}  initContainers:\n  - name: i1\n    image: busybox\n    readinessProbe:\n      exec:\n        command: [ "true" ]\n`,
      ),
    ).toMatch(/^m\.yaml: spec\.initContainers\[0\]\.readinessProbe: Forbidden/);
  });
});

const JOB = `apiVersion: batch/v1
kind: Job
metadata:
  name: report
spec:
  template:
    metadata:
      labels: {team: a}
    spec:
      restartPolicy: Never
      containers:
      - name: m1
        image: busybox
`;

describe('Job manifests', () => {
  it('reads a Job: default backoffLimit 6; pods named <job>-<suffix> with the Job controller labels', () => {
    const m = yaml(JOB);
    if (m.kind !== 'Job') throw new Error('not a Job');
    expect(m.job).toMatchObject({
      name: 'report',
      backoffLimit: 6,
      activeDeadlineSeconds: undefined,
      restartPolicy: 'Never',
    });
    const pod = jobPod(m.job);
    expect(pod.metadata.name).toMatch(/^report-[a-z0-9]{5}$/);
    expect(pod.metadata.labels).toEqual({ team: 'a', 'batch.kubernetes.io/job-name': 'report', 'job-name': 'report' });
    expect(jobPod(m.job).metadata.name).not.toBe(pod.metadata.name);
  });

  it('requires restartPolicy Never or OnFailure and rejects what it does not support, by path', () => {
    expect(error(JOB.replace('      restartPolicy: Never\n', ''))).toBe(
      'm.yaml: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
    );
    expect(error(JOB.replace('restartPolicy: Never', 'restartPolicy: Always'))).toMatch(
      /spec\.template\.spec\.restartPolicy: Unsupported value: "Always"/,
    );
    expect(error(JOB.replace('spec:\n  template:', 'spec:\n  parallelism: 2\n  template:'))).toMatch(
      /spec\.parallelism: Unsupported value: 2/,
    );
    expect(error(JOB.replace('spec:\n  template:', 'spec:\n  suspend: true\n  template:'))).toBe(
      'm.yaml: spec.suspend is not supported',
    );
    expect(error(JOB.replace('spec:\n  template:', 'spec:\n  backoffLimit: -1\n  template:'))).toMatch(
      /spec\.backoffLimit: Invalid value: -1/,
    );
    expect(error(JOB.replace('image: busybox', 'image: busybox\n        restartPolicy: Always'))).toMatch(
      /^m\.yaml: spec\.template\.spec\.containers\[0\]\.restartPolicy: Forbidden/,
    );
    expect(error(JOB.replace('apiVersion: batch/v1', 'apiVersion: v1'))).toMatch(
      /apiVersion: Unsupported value: "v1": supported values: "batch\/v1"/,
    );
  });
});
