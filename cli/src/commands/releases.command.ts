import type { Command } from 'commander';
import { AppView, DeployView, listOf, ReleaseView } from '@sidecar/core/wire';
import type { CommandEnv } from '../command-env.js';
import { CliError, ExitCode, ExitStatus } from '../errors.js';
import type { ApiClient } from '../platform/client.js';
import { followDeploy, reportDeploy } from '../platform/follow.js';
import { ago, printTable } from '../ui.js';
import { appOption, contextOf, jsonOption, wholeNumber } from './options.js';

const Releases = listOf(ReleaseView);

/** `sidecar releases`, `sidecar rollback [VERSION]`. */
export function registerReleases(program: Command, env: CommandEnv): void {
  const { ui } = env;
  program
    .command('releases')
    .description("the app's releases, newest first")
    .addOption(appOption())
    .addOption(jsonOption())
    .action(async (opts: { app?: string; json?: boolean }, cmd: Command) => {
      const client = await env.client(contextOf(cmd));
      const { items } = await client.json('GET', `/apps/${await env.app(client, opts.app)}/releases`, Releases);
      if (opts.json) return ui.json({ items });
      printTable(
        ui,
        ['', 'VERSION', 'CREATED', 'IMAGE', 'COMMIT'],
        items.map((r) => [
          r.current ? '*' : '',
          `v${r.version}`,
          ago(r.createdAt),
          r.imagePruned ? `${r.image} (pruned)` : r.image,
          r.commit ? `${r.commit.sha.slice(0, 7)} ${r.commit.message.split('\n')[0]}` : '',
        ]),
      );
    });

  program
    .command('rollback')
    .description('roll back to VERSION (default: the release before the current one) and wait until it serves')
    .argument('[version]', 'the release to go back to', wholeNumber('VERSION', 1))
    .addOption(appOption())
    .action(async (version: number | undefined, opts: { app?: string }, cmd: Command) => {
      const client = await env.client(contextOf(cmd));
      const name = await env.app(client, opts.app);
      const app = await client.json('GET', `/apps/${name}`, AppView);
      const to = version ?? (await previousRelease(client, app));
      const deploy = await client.json('POST', `/apps/${name}/rollback`, DeployView, { json: { version: to } });
      const spinner = ui.spinner(`rolling back ${name} to v${to}`);
      const ended = await followDeploy({ client, deploy, signal: env.interrupt() }).finally(() => spinner.stop());
      if (!reportDeploy(ui, ended, app.url)) throw new ExitStatus(ExitCode.failed);
      ui.note(ui.c.dim(`v${ended.release} runs the code and config of v${to}`));
    });
}

/** The newest release before the current one whose image is still kept. */
async function previousRelease(client: ApiClient, app: AppView): Promise<number> {
  if (app.currentRelease === null) throw new CliError(`${app.name} has no release yet`, ExitCode.failed);
  const { items } = await client.json('GET', `/apps/${app.name}/releases`, Releases);
  const before = items.find((r) => r.version < app.currentRelease! && !r.imagePruned);
  if (!before) throw new CliError(`${app.name} has no earlier release to roll back to`, ExitCode.failed);
  return before.version;
}
