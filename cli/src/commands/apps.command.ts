import type { Command } from 'commander';
import open from 'open';
import { AppView, DeployView, listOf } from '@sidecar/core/wire';
import type { CommandEnv } from '../command-env.js';
import { UsageError } from '../errors.js';
import { linkApp } from '../platform/app-link.js';
import { ago, printTable } from '../ui.js';
import { appOption, contextOf, jsonOption } from './options.js';

const Apps = listOf(AppView);
const Deploys = listOf(DeployView);

/** apps, create, destroy, open. */
export function registerApps(program: Command, env: CommandEnv): void {
  const { ui } = env;
  program
    .command('apps')
    .description('list apps: name, status, release, URL, last deploy')
    .addOption(jsonOption())
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const client = await env.client(contextOf(cmd));
      const { items } = await client.json('GET', '/apps', Apps);
      const rows = await Promise.all(
        items.map(async (app) => {
          const { items: deploys } = await client.json('GET', `/apps/${app.name}/deploys`, Deploys);
          return { ...app, lastDeploy: deploys[0] ?? null };
        }),
      );
      if (opts.json) return ui.json({ items: rows });
      if (rows.length === 0) return ui.note('no apps yet: sidecar deploy DIR -a NAME creates one');
      printTable(
        ui,
        ['NAME', 'STATUS', 'RELEASE', 'URL', 'LAST DEPLOY'],
        rows.map((a) => [
          a.name,
          a.status,
          a.currentRelease === null ? '-' : `v${a.currentRelease}`,
          a.url,
          a.lastDeploy ? `${a.lastDeploy.status} ${ago(a.lastDeploy.createdAt)}` : '-',
        ]),
      );
    });

  program
    .command('create')
    .description('create an app (and note it in .sidecar.json here)')
    .argument('<name>')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const client = await env.client(contextOf(cmd));
      const app = await client.json('POST', '/apps', AppView, { json: { name } });
      ui.out(`Created ${ui.c.bold(app.name)}: ${app.url}`);
      if (await linkApp(env.cwd, app.name)) ui.note(ui.c.dim(`.sidecar.json: this folder deploys as ${app.name}`));
    });

  program
    .command('destroy')
    .description('delete an app: its pods stop, its deploys, releases, logs and repository go')
    .argument('<name>')
    .requiredOption('--confirm <name>', 'the app name again')
    .action(async (name: string, opts: { confirm: string }, cmd: Command) => {
      if (opts.confirm !== name) throw new UsageError(`--confirm ${opts.confirm} does not name the app "${name}"`);
      const client = await env.client(contextOf(cmd));
      await client.call('DELETE', `/apps/${name}`);
      ui.out(`Destroyed ${name}`);
    });

  program
    .command('open')
    .description("print the app's URL, and open it where there is a browser")
    .addOption(appOption())
    .addOption(jsonOption())
    .action(async (opts: { app?: string; json?: boolean }, cmd: Command) => {
      const client = await env.client(contextOf(cmd));
      const app = await client.json('GET', `/apps/${await env.app(client, opts.app)}`, AppView);
      if (opts.json) return ui.json({ name: app.name, url: app.url });
      ui.out(app.url);
      // Off a desktop (or when piped) printing the URL is all that makes sense.
      if (env.config.desktop && process.stdout.isTTY) await open(app.url).catch(() => undefined);
    });
}
