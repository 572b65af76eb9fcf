import type { Command } from 'commander';
import { AppLogLine, listOf, MAX_LOG_TAIL } from '@sidecar/core/wire';
import type { CommandEnv } from '../command-env.js';
import { UsageError } from '../errors.js';
import { appOption, contextOf, jsonOption, wholeNumber } from './options.js';

interface LogsOptions {
  app?: string;
  follow?: boolean;
  tail?: number;
  container?: string;
  since?: string;
  release?: number;
  json?: boolean;
}

/** `sidecar logs [-f]`: the app's runtime and sidecar logs, through the API (`GET /apps/:app/logs`). */
export function registerLogs(program: Command, env: CommandEnv): void {
  program
    .command('logs')
    .description("the app's runtime and sidecar logs; -f follows until Ctrl-C")
    .addOption(appOption())
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option(
      '--tail <n>',
      `the newest N lines (default 100, up to ${MAX_LOG_TAIL})`,
      wholeNumber('--tail', 0, MAX_LOG_TAIL),
    )
    .option('--container <name>', 'only this container (runtime, app, logs, tls, procinfo)')
    .option('--since <time>', 'lines since an RFC 3339 time or for a duration back from now (90s, 15m, 2h)')
    .option('--release <n>', 'only lines of pods of this release', wholeNumber('--release', 1))
    .addOption(jsonOption())
    .action(async (opts: LogsOptions, cmd: Command) => {
      if (opts.json && opts.follow)
        throw new UsageError('--json prints one document of what there is; it cannot --follow');
      const client = await env.client(contextOf(cmd));
      const app = await env.app(client, opts.app);
      const query = new URLSearchParams();
      if (opts.tail !== undefined) query.set('tail', String(opts.tail));
      if (opts.container) query.set('container', opts.container);
      if (opts.since) query.set('since', opts.since);
      if (opts.release !== undefined) query.set('release', String(opts.release));
      if (opts.follow) query.set('follow', 'true');
      const path = `/apps/${app}/logs?${query}`;
      if (opts.json) return env.ui.json(await client.json('GET', path, listOf(AppLogLine)));
      // Ctrl-C ends a follow; that is how it is meant to end, so the exit code stays 0.
      const signal = opts.follow ? env.interrupt() : undefined;
      for await (const line of client.lines(path, signal)) env.ui.write(`${line}\n`);
    });
}
