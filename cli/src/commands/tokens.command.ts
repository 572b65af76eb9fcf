import type { Command } from 'commander';
import { CreatedToken, listOf, TokenView } from '@sidecar/core/wire';
import type { CommandEnv } from '../command-env.js';
import { ago, printTable } from '../ui.js';
import { contextOf, jsonOption } from './options.js';

/** `sidecar tokens`, `tokens create --app NAME`, `tokens revoke ID` (admin). */
export function registerTokens(program: Command, env: CommandEnv): void {
  const { ui } = env;
  const tokens = program
    .command('tokens')
    .description('list API tokens (admin); `tokens create --app NAME`, `tokens revoke ID`')
    .addOption(jsonOption())
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const client = await env.client(contextOf(cmd));
      const { items } = await client.json('GET', '/tokens', listOf(TokenView));
      if (opts.json) return ui.json({ items });
      printTable(
        ui,
        ['ID', 'NAME', 'ROLE', 'APPS', 'CREATED'],
        items.map((t) => [t.id, t.name, t.role, t.apps ? t.apps.join(',') : '*', ago(t.createdAt)]),
      );
    });
  tokens
    .command('create')
    .description('create a deployer token for apps (its secret is shown this once)')
    .requiredOption('--app <name...>', 'the apps it may touch ("*" for all)')
    .option('--name <name>', 'what it is for', 'deployer')
    .addOption(jsonOption())
    .action(async (opts: { app: string[]; name: string; json?: boolean }, cmd: Command) => {
      const client = await env.client(contextOf(cmd));
      const t = await client.json('POST', '/tokens', CreatedToken, {
        json: { name: opts.name, role: 'deployer', apps: opts.app },
      });
      if (opts.json) return ui.json(t);
      ui.out(t.token);
      ui.note(ui.c.dim(`token ${t.id} (${t.name}) for ${opts.app.join(', ')}: shown this once`));
    });
  tokens
    .command('revoke')
    .description('revoke a token at once')
    .argument('<id>')
    .action(async (id: string, _opts: object, cmd: Command) => {
      const client = await env.client(contextOf(cmd));
      await client.call('DELETE', `/tokens/${encodeURIComponent(id)}`);
      ui.out(`Revoked ${id}`);
    });
}
