import { readFile } from 'node:fs/promises';
import { DomainError, validatePod, type Pod } from '@sidecar/core';
import { ManifestError } from './errors.js';
import { parseJob, type JobManifest } from './job.js';
import { resolveName } from './pod-names.js';
import { parseYamlDocuments } from './yaml.js';

/** A manifest `sidecar pod run` can run; names are resolved (generateName applied) and the pod validated. */
export type Manifest = { kind: 'Pod'; pod: Pod } | { kind: 'Job'; job: JobManifest };

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => JSON.stringify(v) ?? String(v);

/** Reads FILE (`-`: stdin) and parses it; every problem is a ManifestError naming the file and the field. */
export async function loadManifest(file: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<Manifest> {
  let text: string;
  try {
    text = file === '-' ? await readAll(stdin) : await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ManifestError(`${file}: no such file`, { cause: e });
    if (code === 'EISDIR') throw new ManifestError(`${file}: is a directory`, { cause: e });
    if (code === 'EACCES') throw new ManifestError(`${file}: permission denied`, { cause: e });
    throw e;
  }
  return parseManifest(text, { source: file === '-' ? '<stdin>' : file, json: file.endsWith('.json') });
}

/** Pure: manifest text → Manifest. JSON files are parsed as JSON (exact errors); anything else as YAML. */
export function parseManifest(text: string, opts: { source: string; json: boolean }): Manifest {
  const fail = (message: string, cause?: unknown): never => {
    throw new ManifestError(`${opts.source}: ${message}`, { cause });
  };
  let doc: unknown;
  if (opts.json) {
    try {
      doc = JSON.parse(text);
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      fail(`invalid JSON: ${e.message}`, e);
    }
  } else {
    const parsed = parseYamlDocuments(text);
    if ('error' in parsed) return fail(`invalid YAML: ${parsed.error}`);
    if (parsed.documents.length === 0) fail('empty manifest');
    if (parsed.documents.length > 1) fail(`${parsed.documents.length} documents; give one Pod or Job per file`);
    doc = parsed.documents[0];
  }
  if (!isObject(doc)) return fail('not a Kubernetes object (expected a mapping with apiVersion, kind, metadata, spec)');
  try {
    if (doc.kind === 'Pod') {
      if (doc.apiVersion !== 'v1')
        fail(`apiVersion: Unsupported value: ${show(doc.apiVersion)}: supported values: "v1" (kind Pod)`);
      return { kind: 'Pod', pod: parsePod(doc) };
    }
    if (doc.kind === 'Job') {
      if (doc.apiVersion !== 'batch/v1')
        fail(`apiVersion: Unsupported value: ${show(doc.apiVersion)}: supported values: "batch/v1" (kind Job)`);
      return { kind: 'Job', job: parseJob(doc) };
    }
  } catch (e) {
    // validatePod's messages are `<field path>: <detail>`, as the apiserver's.
    if (e instanceof DomainError) fail(e.message, e);
    throw e;
  }
  return fail(`kind: Unsupported value: ${show(doc.kind)}: supported values: "Pod" (v1), "Job" (batch/v1)`);
}

function parsePod(doc: Obj): Pod {
  const metadata = resolveName(doc.metadata, 'metadata');
  return validatePod({ ...doc, metadata });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
