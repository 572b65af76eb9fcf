import { mkdtemp, copyFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Labels, type Container, type Pod } from '@sidecar/core';
import Docker from 'dockerode';
import { containerLogText } from './docker-logs.js';
import { removePodObjects } from './pod-sandbox.js';

/**
 * Helpers for the Docker target's tests (real Docker, no pulls): tiny images
 * built FROM scratch with the host's static busybox, scripted containers that
 * log `start` / `TERM` / `exit`, and cleanup of labelled leftovers.
 */
export const TEST_IMAGES = {
  base: 'sidecar-test-busybox:1',
  pause: 'sidecar-test-pause:1',
  logic: 'sidecar-test-logic:ok-2',
  logicBroken: 'sidecar-test-logic:broken',
  runtime: 'sidecar-test-runtime:1',
} as const;

export const docker = () => new Docker({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' });

/** A script that waits forever in a way SIGTERM can interrupt (a shell at PID 1 ignores untrapped TERM). */
const FOREVER = 'while :; do sleep 1 & wait $!; done';

const DOCKERFILES: Record<string, string> = {
  [TEST_IMAGES.base]: [
    'FROM scratch',
    'COPY busybox /bin/busybox',
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
    // /tmp for probes' marker files; /workspace owned by the app user so a fresh volume copies that ownership.
    'RUN ["/bin/sh", "-c", "mkdir -p /tmp /workspace /log && chmod 1777 /tmp /log && chown 1000:1000 /workspace"]',
  ].join('\n'),
  [TEST_IMAGES.pause]: `FROM ${TEST_IMAGES.base}\nCMD ["sh", "-c", "trap 'exit 0' TERM; ${FOREVER}"]`,
  // The logic sidecar of the platform template: publishes the "bundle" into /workspace (and /workspace/current, where jobs run), marks it ready, waits.
  [TEST_IMAGES.logic]: `FROM ${TEST_IMAGES.base}\nCMD ["sh", "-c", "echo logic start; mkdir -p /workspace/__sidecar /workspace/current && echo ok > /workspace/__sidecar/ready && echo \\"hello from $SIDECAR_RELEASE\\" > /workspace/index.html && touch /workspace/.ready; trap 'exit 0' TERM; ${FOREVER}"]`,
  // A bundle the runtime cannot load: no ready endpoint, so readiness fails with 404.
  [TEST_IMAGES.logicBroken]: `FROM ${TEST_IMAGES.base}\nCMD ["sh", "-c", "echo logic start; echo broken > /workspace/index.html && touch /workspace/.ready; trap 'exit 0' TERM; ${FOREVER}"]`,
  // The runtime: serves /workspace on 8080 (busybox httpd).
  [TEST_IMAGES.runtime]: `FROM ${TEST_IMAGES.base}\nCMD ["sh", "-c", "echo runtime start; echo 'runtime: serving /workspace on :8080'; trap 'exit 0' TERM; httpd -f -p 8080 -h /workspace & wait $!"]`,
};

/** Builds the test images once (classic builder, < 2 s each); concurrent callers share the work. */
export async function ensureTestImages(d: Docker): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sidecar-test-image-'));
  try {
    await copyFile('/bin/busybox', join(dir, 'busybox'));
    for (const [tag, dockerfile] of Object.entries(DOCKERFILES)) {
      const exists = await d
        .getImage(tag)
        .inspect()
        .then(
          () => true,
          () => false,
        );
      if (exists) continue;
      await writeFile(join(dir, 'Dockerfile'), dockerfile);
      const stream = await d.buildImage(
        { context: dir, src: ['Dockerfile', 'busybox'] },
        // No build cache: its probe fails a FROM scratch build when another test removes a parentless image meanwhile.
        { t: tag, labels: { [Labels.managed]: 'test' }, nocache: true },
      );
      const output = await new Promise<{ error?: string }[]>((resolve, reject) =>
        d.modem.followProgress(stream, (err, res) => (err ? reject(err) : resolve(res as { error?: string }[]))),
      );
      const failed = output.find((m) => m.error);
      if (failed) throw new Error(`building ${tag}: ${failed.error}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const uniqueName = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

export interface ScriptOptions {
  /** Shell run after `start` is logged; default waits forever. */
  body?: string;
  /** On SIGTERM: exit 0 (default), ignore it, or exit after `termDelay` seconds. */
  onTerm?: 'exit' | 'ignore';
  termDelay?: number;
}

/**
 * `sh -c` for a test container that logs `<name> start|TERM|exit` to stdout. Its TERM handler is
 * installed before `start` is logged: a shell at PID 1 ignores a TERM that comes before its trap
 * (Docker reports the container running before the shell has read its script), so a test that
 * signals a container must first see its `start` line (`waitForLog`).
 */
export function script(name: string, opts: ScriptOptions = {}): string[] {
  const onTerm =
    opts.onTerm === 'ignore'
      ? `echo "${name} TERM"`
      : `echo "${name} TERM"; ${opts.termDelay ? `sleep ${opts.termDelay}; ` : ''}echo "${name} exit"; exit 0`;
  const body = opts.body ?? FOREVER;
  return ['sh', '-c', `trap '${onTerm}' TERM; echo "${name} start"; ${body}; code=$?; echo "${name} exit"; exit $code`];
}

/** A body that runs `seconds` (TERM-interruptible), then exits with `code`. */
export const runFor = (seconds: number, code = 0) => `sleep ${seconds} & wait $!; (exit ${code})`;

export function container(name: string, opts: ScriptOptions & Partial<Container> = {}): Container {
  const { body, onTerm, termDelay, ...rest } = opts;
  return {
    name,
    image: TEST_IMAGES.base,
    command: script(name, {
      ...(body !== undefined ? { body } : {}),
      ...(onTerm ? { onTerm } : {}),
      ...(termDelay ? { termDelay } : {}),
    }),
    ...rest,
  };
}

export function testPod(name: string, spec: Omit<Pod['spec'], 'containers'> & { containers: Container[] }): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'sidecar.paas/test': 'true' } },
    spec: { terminationGracePeriodSeconds: 5, ...spec },
  };
}

/** Every container's stdout/stderr lines merged in Docker's timestamp order (ns precision). */
export async function podLog(d: Docker, pod: string): Promise<string[]> {
  return (await podLogTimed(d, pod)).map((l) => l.text);
}

/** As podLog, with each line's Docker timestamp in ms since the epoch. */
async function podLogTimed(d: Docker, pod: string): Promise<{ ms: number; text: string }[]> {
  const containers = await d.listContainers({
    all: true,
    filters: { label: [`${Labels.managed}=true`, `${Labels.pod}=${pod}`] },
  });
  const lines: { ns: bigint; text: string }[] = [];
  for (const c of containers) {
    const text = await containerLogText(d.getContainer(c.Id), { timestamps: true });
    for (const line of text.split('\n')) {
      const m = /^(\S+)\s(.*)$/.exec(line);
      if (m?.[1] && m[2] !== undefined) lines.push({ ns: toNs(m[1]), text: m[2] });
    }
  }
  return lines
    .sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0))
    .map((l) => ({ ms: Number(l.ns / 1_000_000n), text: l.text }));
}

function toNs(ts: string): bigint {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(ts);
  if (!m?.[1]) throw new Error(`bad docker timestamp ${ts}`);
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 9));
}

/**
 * When the engine started a container of the pod (State.StartedAt, ns): the order the runner started
 * them in, which the first lines they print need not show (a starved shell prints after a later one).
 */
export async function startedAtNs(d: Docker, pod: string, container: string): Promise<bigint> {
  const [c] = await d.listContainers({
    all: true,
    filters: { label: [`${Labels.managed}=true`, `${Labels.pod}=${pod}`, `${Labels.container}=${container}`] },
  });
  if (!c) throw new Error(`pod ${pod} has no container ${container}`);
  return toNs((await d.getContainer(c.Id).inspect()).State.StartedAt);
}

/** Resolves once the pod's merged log holds every one of `lines` (checked every 100 ms, up to `timeoutMs`). */
export async function waitForLog(d: Docker, pod: string, lines: string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await podLog(d, pod);
    const missing = lines.filter((l) => !log.includes(l));
    if (missing.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`pod ${pod}: no ${missing.join(', ')} in its log within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Removes every labelled object of the given pods (afterEach safety net). */
export async function cleanupPods(d: Docker, pods: Iterable<string>): Promise<void> {
  for (const pod of pods) await removePodObjects(d, pod);
}

/** ms between two ISO times. */
export const between = (a: string, b: string) => Date.parse(b) - Date.parse(a);
