import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The built `sidecar` command, run as a user runs it (not through npx, which does not forward signals). */
export const SIDECAR_BIN = resolve(import.meta.dirname, '../../cli/bin/sidecar.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `sidecar ARGS` to its end in `cwd`, with `env` over a copy of this process's environment from
 * which the CLI's own variables are removed (a test says which API and token it means).
 */
export function sidecar(
  args: readonly string[],
  opts: { cwd: string; env: Record<string, string>; input?: string; timeoutMs?: number },
): Promise<CliResult> {
  const { SIDECAR_API_URL: _u, SIDECAR_TOKEN: _t, ...base } = process.env;
  const child = spawn(process.execPath, [SIDECAR_BIN, ...args], {
    cwd: opts.cwd,
    env: { ...base, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdin.end(opts.input ?? '');
  const timeoutMs = opts.timeoutMs ?? 180_000;
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sidecar ${args.join(' ')}: no exit in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}
