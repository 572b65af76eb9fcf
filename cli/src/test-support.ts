import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PodEvent, PodView } from '@sidecar/core';
import type Docker from 'dockerode';

/**
 * Helpers for the CLI's tests: the real built command in a child process, its stdout read as JSON
 * lines as they come, and waits on specific lines with bounded deadlines (no sleeps).
 */
export const SIDECAR_BIN = fileURLToPath(new URL('../bin/sidecar.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(fileURLToPath(new URL('../dist/main.js', import.meta.url)))) {
    throw new Error('cli is not built: run `npx tsc -b cli` before these tests');
  }
}

export interface FinalLine {
  status: PodView;
  job?: { name: string; succeeded: number; failed: number; conditions: { type: string; reason?: string }[] };
}

export interface CliProcess {
  readonly child: ChildProcess;
  /** Lifecycle event lines printed so far, in order. */
  events(): PodEvent[];
  /** The `{"status"}` line, once printed. */
  final(): FinalLine | undefined;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first event line matching `pred` (already printed or to come). */
  waitForEvent(pred: (e: PodEvent) => boolean, what: string, timeoutMs?: number): Promise<PodEvent>;
  /** Resolves with the exit code once the process ended. */
  exit(timeoutMs?: number): Promise<number | null>;
}

/** `jsonLines`: stdout must be JSON lines (pod run, pod get); each is parsed as it arrives. */
export function runSidecar(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  opts: { jsonLines: boolean } = { jsonLines: true },
): CliProcess {
  const child = spawn(process.execPath, [SIDECAR_BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const events: PodEvent[] = [];
  let final: FinalLine | undefined;
  const listeners = new Set<() => void>();
  const notify = () => [...listeners].forEach((l) => l());
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    if (!opts.jsonLines) return;
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') continue;
      const v = JSON.parse(line) as PodEvent | FinalLine; // every stdout line must be JSON
      if ('status' in v) final = v;
      else events.push(v);
    }
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  let code: number | null | undefined;
  // 'close', not 'exit': once its output has been read to the end (an exit can be seen before the last chunk).
  const exited = new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  void exited.then((c) => {
    code = c;
    notify();
  });
  const until = <T>(get: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const v = get();
        if (v !== undefined) {
          done();
          resolve(v);
        } else if (code !== undefined) {
          done();
          reject(
            new Error(`sidecar ${args.join(' ')} exited (${code}) before ${what}\nstdout:\n${out}\nstderr:\n${err}`),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\nstdout:\n${out}\nstderr:\n${err}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  return {
    child,
    events: () => [...events],
    final: () => final,
    stdout: () => out,
    stderr: () => err,
    waitForEvent: (pred, what, timeoutMs = 30_000) => until(() => events.find(pred), what, timeoutMs),
    exit: (timeoutMs = 45_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `sidecar ${args.join(' ')} still running after ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`,
              ),
            ),
          timeoutMs,
        );
        void exited.then((c) => {
          clearTimeout(timer);
          resolve(c);
        });
      }),
  };
}

/** Index of the first event of `container` with `reason` (-1 if none). */
export const indexOf = (events: PodEvent[], container: string, reason: string): number =>
  events.findIndex((e) => e.container === container && e.reason === reason);

/** Names of the CLI's pods whose name starts with `prefix` (a Job's pods), found by their labels. */
export async function podsNamed(d: Docker, prefix: string): Promise<string[]> {
  const list = await d.listContainers({
    all: true,
    filters: { label: ['sidecar.paas/managed=true', 'sidecar.paas/platform=cli'] },
  });
  return [...new Set(list.map((c) => c.Labels['sidecar.paas/pod'] ?? '').filter((n) => n.startsWith(prefix)))];
}

/** Docker objects (containers, volumes) still labelled with `pod`. */
export async function leftovers(d: Docker, pod: string): Promise<number> {
  const label = [`sidecar.paas/managed=true`, `sidecar.paas/pod=${pod}`];
  const containers = await d.listContainers({ all: true, filters: { label } });
  const { Volumes } = await d.listVolumes({ filters: { label } });
  return containers.length + (Volumes ?? []).length;
}
