import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as yaml from 'js-yaml';

/**
 * Test support: the documents of `deploy/kubernetes/`, and what a kubelet would do with a container
 * of them that the tests reproduce with the real programs on this host (Redis, the registry, dockerd):
 * its environment, with Secret values given by the test, and `$(VAR)` references expanded.
 */
export const DEPLOY_DIR = fileURLToPath(new URL('../../../../deploy/kubernetes/', import.meta.url));

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
}
export interface ContainerDoc {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { exec?: { command: string[] } };
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
  securityContext?: Record<string, unknown>;
}
export interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown> & {
    template?: {
      metadata?: { labels?: Record<string, string> };
      spec: { containers: ContainerDoc[]; initContainers?: ContainerDoc[]; volumes?: Record<string, unknown>[] };
    };
  };
  data?: Record<string, string>;
}

/** Every document of every YAML file there (kustomization.yaml aside), with its file. */
export function deployDocs(): { file: string; doc: Doc }[] {
  return readdirSync(DEPLOY_DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((file) =>
      yaml
        .loadAll(readFileSync(join(DEPLOY_DIR, file), 'utf8'))
        .filter(Boolean)
        .map((doc) => ({ file, doc: doc as Doc })),
    );
}

export function deployDoc(kind: string, name: string): Doc {
  const found = deployDocs().find(({ doc }) => doc.kind === kind && doc.metadata.name === name);
  if (!found) throw new Error(`deploy/kubernetes has no ${kind} ${name}`);
  return found.doc;
}

export function containerOf(doc: Doc, name: string): ContainerDoc {
  const spec = doc.spec?.template?.spec;
  const c = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].find((c) => c.name === name);
  if (!c) throw new Error(`${doc.kind} ${doc.metadata.name} has no container ${name}`);
  return c;
}

/** The ConfigMap's data, for `envFrom`. */
export const configMapData = (name: string) => deployDoc('ConfigMap', name).data ?? {};

/**
 * The container's environment as the kubelet builds it: `envFrom` ConfigMaps first, then `env` in
 * order, Secret references from `secrets` (`<secret>/<key>`), and `$(NAME)` replaced by a variable
 * defined before it (an unknown reference stays as written, as Kubernetes leaves it).
 */
export function containerEnv(c: ContainerDoc, secrets: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) if (from.configMapRef) Object.assign(env, configMapData(from.configMapRef.name));
  for (const v of c.env ?? []) {
    const ref = v.valueFrom?.secretKeyRef;
    if (ref) {
      const value = secrets[`${ref.name}/${ref.key}`];
      if (value === undefined) throw new Error(`the test gives no value for Secret ${ref.name} key ${ref.key}`);
      env[v.name] = value;
    } else if (v.valueFrom?.configMapKeyRef) {
      const { name, key } = v.valueFrom.configMapKeyRef;
      env[v.name] = configMapData(name)[key] ?? '';
    } else {
      env[v.name] = (v.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, n: string) => env[n] ?? all);
    }
  }
  return env;
}

/** Debian's docker-registry (the CNCF distribution registry), installed when missing and allowed. */
export function ensureRegistryBinary(): void {
  try {
    execFileSync('sh', ['-c', 'command -v docker-registry'], { stdio: 'ignore' });
  } catch {
    if (process.getuid?.() !== 0)
      throw new Error('docker-registry is not installed: apt-get install -y docker-registry');
    execFileSync('apt-get', ['install', '-y', 'docker-registry'], { stdio: 'ignore', timeout: 300_000 });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A program the test started, with its output kept for the failure message; stop() ends it and waits. */
export class Program {
  readonly child: ChildProcess;
  output = '';
  private readonly exited: Promise<void>;

  constructor(command: string, args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
    this.child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.env ? { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts.env } } : {}),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    const keep = (b: Buffer) => (this.output = (this.output + b.toString()).slice(-8000));
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once `ready()` says so; fails if the program exits first or `timeoutMs` passes. */
  async until(ready: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`${what}: the program exited: ${this.output}`);
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms: ${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGTERM');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(killer);
  }
}

/**
 * Runs `deploy/kubernetes/create-secrets.sh --out` in a fresh folder and reads back what it made
 * (then removes the folder): `<secret>/<key>` → the decoded value (every name is unique across the
 * two namespaces), and the manifests.
 */
export function createSecrets(env: Record<string, string> = {}): { values: Record<string, string>; manifests: Doc[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sidecar-secrets-'));
  let manifests: Doc[];
  try {
    execFileSync('bash', [join(DEPLOY_DIR, 'create-secrets.sh'), '--out', dir], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    manifests = readdirSync(dir).map((f) => yaml.load(readFileSync(join(dir, f), 'utf8')) as Doc);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const values: Record<string, string> = {};
  for (const m of manifests)
    for (const [key, b64] of Object.entries(m.data ?? {}))
      values[`${m.metadata.name}/${key}`] = Buffer.from(b64, 'base64').toString('utf8');
  return { values, manifests };
}
