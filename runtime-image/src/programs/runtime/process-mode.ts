/**
 * Process mode: the bundle brings its own server. The runtime starts it with
 * `sh -c <start>`, forwards termination signals and exits with its exit code;
 * it never listens itself (the user's process owns the port).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

const FORWARDED = ['SIGTERM', 'SIGINT'] as const;

export function runProcess(opts: { start: string; bundleDir: string; port: string }): Promise<number> {
  // Own process group, so a signal reaches the user's server even when the shell forks instead of exec-ing.
  const child = spawn('sh', ['-c', opts.start], {
    cwd: opts.bundleDir,
    env: { ...process.env, PORT: opts.port },
    stdio: 'inherit',
    detached: true,
  });
  const forward = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal); // the group is gone already; try the shell itself
    }
  };
  for (const s of FORWARDED) process.on(s, forward);
  return new Promise((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`runtime: could not start "${opts.start}": ${err.stack ?? err.message}\n`);
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      for (const s of FORWARDED) process.off(s, forward);
      // Shell convention: killed by signal N → 128 + N.
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}
