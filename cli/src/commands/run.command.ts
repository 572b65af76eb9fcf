import { setTimeout as delay } from 'node:timers/promises';
import type { Command } from 'commander';
import { JobView } from '@sidecar/core/wire';
import type { CommandEnv } from '../command-env.js';
import { ExitCode, ExitStatus } from '../errors.js';
import { appOption, contextOf } from './options.js';

/** How often a running job is looked at: the API keeps a job's output once it ends. */
const POLL_MS = 500;

/** `sidecar run -- CMD…`: a one-off job against the current release; exits with the job's exit code. */
export function registerRun(program: Command, env: CommandEnv): void {
  program
    .command('run')
    .description('run a one-off command against the current release; print its output; exit with its exit code')
    .argument('<command...>', 'the program and its arguments (after --)')
    .addOption(appOption())
    .passThroughOptions()
    .addHelpText('after', '\nExample: sidecar run -a hello -- node scripts/migrate.js --dry-run')
    .action(async (command: string[], opts: { app?: string }, cmd: Command) => {
      const client = await env.client(contextOf(cmd));
      const app = await env.app(client, opts.app);
      const signal = env.interrupt();
      let job = await client.json('POST', `/apps/${app}/jobs`, JobView, { json: { command } });
      const spinner = env.ui.spinner(`job ${job.id} on v${job.release}: ${command.join(' ')}`);
      try {
        while (job.status === 'pending' || job.status === 'running') {
          await delay(POLL_MS, undefined, { signal });
          job = await client.json('GET', `/apps/${app}/jobs/${job.id}`, JobView, { signal });
        }
      } finally {
        spinner.stop();
      }
      env.ui.write(job.output);
      if (job.output && !job.output.endsWith('\n')) env.ui.write('\n');
      if (job.exitCode === null) {
        env.ui.note(`job ${job.id} failed: ${job.error ?? 'no exit code'}`);
        throw new ExitStatus(ExitCode.failed);
      }
      if (job.exitCode !== 0) env.ui.note(env.ui.c.dim(`job ${job.id} exited with code ${job.exitCode}`));
      // 0..255 as a process's own; the job's code passes through.
      throw new ExitStatus(job.exitCode);
    });
}
